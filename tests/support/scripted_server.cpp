#include "tests/support/scripted_server.h"

#include <thread>

namespace ps::test {

ScriptedServer::ScriptedServer(std::vector<int> teapot_statuses, int hold_ms) : state_(std::make_shared<State>()) {
  state_->statuses = std::move(teapot_statuses);
  auto state = state_;
  auto count = [state](const server::HttpRequest& req) {
    std::lock_guard lock(state->mutex);
    return ++state->hits[req.path + (req.query.empty() ? "" : "?" + req.query)];
  };
  server::HttpRoutes routes;
  routes[{"GET", "/hit"}] = [count](const server::HttpRequest& req, server::HttpResponder respond) {
    count(req);
    respond({200, "text/plain", "ok"});
  };
  routes[{"GET", "/teapot"}] = [count, state](const server::HttpRequest& req, server::HttpResponder respond) {
    count(req);
    int status;
    {
      std::lock_guard lock(state->mutex);
      status = state->statuses[std::min(state->next_status++, state->statuses.size() - 1)];
    }
    respond({status, "text/plain", status == 418 ? "I'm a teapot" : "not a teapot"});
  };
  routes[{"GET", "/hold"}] = [count, hold_ms](const server::HttpRequest& req, server::HttpResponder respond) {
    if (count(req) > 1) return respond({200, "text/plain", "quick"});
    std::thread([respond, hold_ms] {
      std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
      respond({200, "text/plain", "late"});
    }).detach();
  };
  server_ = std::make_unique<server::HttpServer>("127.0.0.1", 0, std::move(routes));
}

ScriptedServer::~ScriptedServer() = default;

std::map<std::string, int> ScriptedServer::hits() {
  std::lock_guard lock(state_->mutex);
  return state_->hits;
}

int ScriptedServer::hits(const std::string& path_and_query) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->hits.find(path_and_query);
  return it == state_->hits.end() ? 0 : it->second;
}

}  // namespace ps::test
