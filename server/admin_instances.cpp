#include "server/admin_instances.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "runtime/app_registry.h"
#include "server/admin_params.h"
#include "server/json_response.h"

namespace ps::server {

namespace {

nlohmann::json health_json(const runtime::HealthSnapshot& h) {
  nlohmann::json out = {{"state", runtime::health_state_name(h.state)},
                        {"budget_left_seconds", h.budget_left_seconds},
                        {"reason", h.reason},
                        {"suspensions", h.suspensions}};
  if (h.state == runtime::HealthState::suspended) out["suspended_for_seconds"] = h.suspended_for_seconds;
  return out;
}

nlohmann::json instances_json(const runtime::AppRegistry& registry) {
  auto list = nlohmann::json::array();
  for (const auto& s : registry.status()) {
    nlohmann::json entry = {{"app", s.app},
                            {"path", s.path},
                            {"team_id", s.team_id},
                            {"instance_id", s.id},
                            {"install_id", s.install_id ? nlohmann::json(s.install_id) : nlohmann::json(nullptr)},
                            {"version", s.version ? nlohmann::json(s.version) : nlohmann::json(nullptr)},
                            {"install_updated_at", s.install_id ? nlohmann::json(s.install_updated_at) : nlohmann::json(nullptr)},
                            {"state", s.state},
                            {"error", s.error},
                            {"calls", s.calls},
                            {"failures", s.failures}};
    if (s.health) entry["health"] = health_json(*s.health);
    list.push_back(std::move(entry));
  }
  return list;
}

// Which daemon answers: instances are per daemon.
std::string daemon_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host) + ":" + std::to_string(getpid());
}

std::string utc_text(std::chrono::system_clock::time_point at) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return text;
}

// The instance a path's {id} names, or the 404 to answer.
std::shared_ptr<runtime::AppInstance> instance_of(runtime::AppRegistry& registry, const HttpRequest& req,
                                                  HttpResponse* refusal) {
  const auto& text = req.params.at("id");
  auto id = id_of(text);
  auto instance = id ? registry.find(*id) : nullptr;
  if (!instance) *refusal = error_response(404, "no app instance " + text + " runs on this daemon");
  return instance;
}

}  // namespace

void add_instance_routes(HttpRoutes& routes, const std::function<HttpHandler(HttpHandler)>& admin,
                         runtime::AppRegistry& registry) {
  auto* r = &registry;
  routes[{"GET", "/apps"}] = admin([r](const HttpRequest&, HttpResponder respond) {
    respond(json_response(200, instances_json(*r)));
  });
  routes[{"GET", "/admin/instances"}] = admin([r](const HttpRequest&, HttpResponder respond) {
    respond(json_response(200, {{"daemon", daemon_name()}, {"instances", instances_json(*r)}}));
  });
  routes[{"GET", "/admin/instances/{id}/logs"}] = admin([r](const HttpRequest& req, HttpResponder respond) {
    HttpResponse refusal;
    auto instance = instance_of(*r, req, &refusal);
    if (!instance) return respond(refusal);
    auto lines = nlohmann::json::array();
    for (const auto& line : instance->recent_log()) {
      lines.push_back({{"at", utc_text(line.at)}, {"level", line.level}, {"text", line.text}});
    }
    respond(json_response(200, {{"instance_id", instance->id()}, {"daemon", daemon_name()}, {"lines", lines}}));
  });
  // Lets an instance its health suspended or disabled take calls again.
  routes[{"POST", "/admin/instances/{id}/enable"}] = admin([r](const HttpRequest& req, HttpResponder respond) {
    HttpResponse refusal;
    auto instance = instance_of(*r, req, &refusal);
    if (!instance) return respond(refusal);
    if (instance->enable()) {
      return respond(json_response(200, {{"instance_id", instance->id()}, {"health", health_json(instance->health())}}));
    }
    respond(error_response(409, "the instance is " + std::string(runtime::health_state_name(instance->health().state)) +
                                    ", not suspended or disabled"));
  });
}

}  // namespace ps::server
