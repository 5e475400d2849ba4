#pragma once
// A local HTTP server for tests of apps that fetch: counts hits by query
// string, answers /teapot with a scripted list of statuses, and holds the
// first request to /hold for a while.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/http_server.h"

namespace ps::test {

class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<int> teapot_statuses = {200}, int hold_ms = 0);
  ~ScriptedServer();

  int port() const { return server_->port(); }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port()); }
  // Requests seen per path+query, e.g. "/hit?i=3".
  std::map<std::string, int> hits();
  int hits(const std::string& path_and_query);

 private:
  struct State {
    std::mutex mutex;
    std::vector<int> statuses;
    std::size_t next_status = 0;
    std::map<std::string, int> hits;
  };
  std::shared_ptr<State> state_;
  std::unique_ptr<server::HttpServer> server_;
};

}  // namespace ps::test
