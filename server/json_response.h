#pragma once
// JSON answers of the HTTP endpoints, and the admin API's error shape:
// {"error": "...", "details": [...]}.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/http_server.h"

namespace ps::server {

inline HttpResponse json_response(int status, const nlohmann::json& body) {
  return {status, "application/json", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

inline HttpResponse error_response(int status, const std::string& error, const std::vector<std::string>& details = {}) {
  return json_response(status, {{"error", error}, {"details", details}});
}

}  // namespace ps::server
