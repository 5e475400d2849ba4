#pragma once
// The admin API's view of the app instances this daemon runs:
//   GET  /apps                             (kept for existing scripts: the list alone)
//   GET  /admin/instances                  state, error, health, counters of each
//   GET  /admin/instances/{id}/logs        its recent console lines and failed calls
//   POST /admin/instances/{id}/enable      takes calls again after its health sidelined it
// Answered on the HTTP thread: each reads memory only.

#include <functional>

#include "server/http_server.h"

namespace ps::runtime {
class AppRegistry;
}

namespace ps::server {

// `registry` must outlive the routes; `admin` wraps each in the token check.
void add_instance_routes(HttpRoutes& routes, const std::function<HttpHandler(HttpHandler)>& admin,
                         runtime::AppRegistry& registry);

}  // namespace ps::server
