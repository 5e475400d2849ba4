#include "server/admin_jobs.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>

#include "runtime/app_registry.h"
#include "runtime/host_services.h"
#include "runtime/public_job_payload.h"
#include "scheduler/job_admin.h"
#include "server/admin_params.h"
#include "server/admin_worker.h"
#include "server/json_response.h"

namespace ps::server {

namespace {

constexpr int kMaxListed = 1000;

bool is_job_state(const std::string& state) {
  return state == "available" || state == "running" || state == "failed" || state == "discarded";
}

// A list filter from a query string, or the 400 to answer.
std::optional<scheduler::JobFilter> filter_of(const std::string& query, HttpResponse* refusal) {
  scheduler::JobFilter filter;
  std::vector<std::string> problems;
  if (auto state = query_value(query, "state")) {
    if (is_job_state(*state)) filter.state = *state;
    else problems.push_back("state: expected available, running, failed or discarded");
  }
  if (auto instance = query_value(query, "instance")) {
    filter.instance = id_of(*instance);
    if (!filter.instance) problems.push_back("instance: expected an instance id");
  }
  if (auto limit = query_value(query, "limit")) {
    auto n = id_of(*limit);
    if (n && *n >= 1) filter.limit = static_cast<int>(std::min<long long>(*n, kMaxListed));
    else problems.push_back("limit: expected a positive integer");
  }
  if (!problems.empty()) {
    *refusal = error_response(400, "the query is not valid", problems);
    return std::nullopt;
  }
  return filter;
}

HttpResponse change_response(scheduler::JobAdmin::Change change, long long id, const std::string& why,
                             HttpResponse done) {
  switch (change) {
    case scheduler::JobAdmin::Change::done: return done;
    case scheduler::JobAdmin::Change::not_found: return error_response(404, "no job " + std::to_string(id));
    case scheduler::JobAdmin::Change::refused: return error_response(409, why);
  }
  return error_response(500, "unreachable");
}

// The job id of a path, or the 404 to answer.
std::optional<long long> job_id(const HttpRequest& req, HttpResponse* refusal) {
  auto id = id_of(req.params.at("id"));
  if (!id) *refusal = error_response(404, "no job " + req.params.at("id"));
  return id;
}

void run_public_job(runtime::AppRegistry& registry, runtime::JobSink* jobs, AdminWorker& worker,
                    const HttpRequest& req, HttpResponder respond) {
  const auto& name = req.params.at("name");
  auto id = id_of(req.params.at("id"));
  auto instance = id ? registry.find(*id) : nullptr;
  if (!instance) return respond(error_response(404, "no app instance " + req.params.at("id") + " runs on this daemon"));
  const auto& manifest = instance->manifest();
  if (std::find(manifest.public_jobs.begin(), manifest.public_jobs.end(), name) == manifest.public_jobs.end()) {
    return respond(error_response(404, instance->name() + " declares no public job \"" + name + "\"",
                                  manifest.public_jobs));
  }
  const auto& exported = instance->exports().jobs;
  if (std::find(exported.begin(), exported.end(), name) == exported.end()) {
    return respond(error_response(409, instance->name() + " declares \"" + name + "\" public but exports no such job"));
  }
  auto body = req.body.empty() ? nlohmann::json::object() : nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return respond(error_response(400, "the body is not JSON"));
  auto declared = manifest.public_job_payloads.count(name) ? manifest.public_job_payloads.at(name) : nlohmann::json();
  auto checked = runtime::check_public_job_payload(declared, body);
  if (!checked.problems.empty()) {
    return respond(error_response(422, "the payload does not fit the job", checked.problems));
  }
  if (!jobs) return respond(error_response(503, "this daemon has no job queue"));
  runtime::JobRequest job;
  job.instance = instance->id();
  job.app = instance->name();
  job.name = name;
  job.payload_json = checked.payload.dump();
  job.run_at = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  auto answer = nlohmann::json{{"instance_id", instance->id()}, {"job", name}, {"payload", checked.payload}};
  // On the worker, waiting for the commit: a shutdown closes the worker
  // while the job queue and the HTTP server are still there to answer.
  worker.run(std::move(respond), [jobs, job = std::move(job), answer]() mutable {
    std::promise<std::optional<std::string>> stored;
    auto outcome = stored.get_future();
    jobs->enqueue(std::move(job), [&stored](std::optional<std::string> error) { stored.set_value(std::move(error)); });
    if (auto error = outcome.get()) return error_response(503, "the job was not queued", {*error});
    return json_response(202, answer);
  });
}

}  // namespace

void add_job_routes(HttpRoutes& routes, const std::function<HttpHandler(HttpHandler)>& admin, db::Pool& pool,
                    AdminWorker& worker, runtime::AppRegistry& registry, runtime::JobSink* jobs) {
  auto store = std::make_shared<scheduler::JobAdmin>(pool);
  auto* w = &worker;
  routes[{"GET", "/admin/jobs"}] = admin([store, w](const HttpRequest& req, HttpResponder respond) {
    HttpResponse refusal;
    auto filter = filter_of(req.query, &refusal);
    if (!filter) return respond(refusal);
    w->run(std::move(respond), [store, filter = *filter] { return json_response(200, {{"jobs", store->list(filter)}}); });
  });
  routes[{"POST", "/admin/jobs/{id}/retry"}] = admin([store, w](const HttpRequest& req, HttpResponder respond) {
    HttpResponse refusal;
    auto id = job_id(req, &refusal);
    if (!id) return respond(refusal);
    w->run(std::move(respond), [store, id = *id] {
      std::string why;
      auto change = store->retry(id, &why);
      return change_response(change, id, why, json_response(200, {{"id", id}, {"state", "available"}}));
    });
  });
  routes[{"POST", "/admin/jobs/retry"}] = admin([store, w](const HttpRequest& req, HttpResponder respond) {
    auto body = req.body.empty() ? nlohmann::json::object() : nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object()) return respond(error_response(400, "the body must be a JSON object"));
    scheduler::JobFilter filter;
    std::vector<std::string> problems;
    for (const auto& [key, value] : body.items()) {
      if (key == "state" && (value == "failed" || value == "discarded")) filter.state = value.get<std::string>();
      else if (key == "instance" && value.is_number_integer()) filter.instance = value.get<long long>();
      else if (key == "state") problems.push_back("state: expected failed or discarded");
      else if (key == "instance") problems.push_back("instance: expected an instance id");
      else problems.push_back(key + ": not a filter of jobs to retry");
    }
    if (!problems.empty()) return respond(error_response(400, "the request is not valid", problems));
    if (!filter.state) filter.state = "failed";
    w->run(std::move(respond), [store, filter] { return json_response(200, {{"retried", store->retry_all(filter)}}); });
  });
  routes[{"DELETE", "/admin/jobs/{id}"}] = admin([store, w](const HttpRequest& req, HttpResponder respond) {
    HttpResponse refusal;
    auto id = job_id(req, &refusal);
    if (!id) return respond(refusal);
    w->run(std::move(respond), [store, id = *id] {
      std::string why;
      auto change = store->cancel(id, &why);
      return change_response(change, id, why, HttpResponse{204, "application/json", ""});
    });
  });
  auto* r = &registry;
  routes[{"POST", "/admin/instances/{id}/jobs/{name}"}] = admin([r, jobs, w](const HttpRequest& req,
                                                                           HttpResponder respond) {
    run_public_job(*r, jobs, *w, req, std::move(respond));
  });
}

}  // namespace ps::server
