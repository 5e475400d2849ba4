#pragma once
// The admin API's app versions and installs:
//   POST   /admin/apps                            a .tar.gz body, checked as check-app checks it
//   GET    /admin/apps                            every app and its latest version
//   GET    /admin/apps/{name}                     its versions and installs
//   DELETE /admin/apps/{name}/versions/{version}  a version no install uses
//   GET    /admin/installs[?team_id=N]            installs (secret config values as "***")
//   POST   /admin/installs                        installs an app for a team
//   PATCH  /admin/installs/{id}                   version, config (merged), order, enabled
//   DELETE /admin/installs/{id}
// The work (Postgres, a V8 isolate to check an upload) runs on the admin
// worker.

#include <functional>

#include "server/http_server.h"

namespace ps::db {
class Pool;
}
namespace ps::runtime {
struct Limits;
}

namespace ps::server {

class AdminWorker;

// Adds the routes, each wrapped by `admin` (the token check). `pool` and
// `worker` must outlive the routes.
void add_app_routes(HttpRoutes& routes, const std::function<HttpHandler(HttpHandler)>& admin, db::Pool& pool,
                    const runtime::Limits& limits, AdminWorker& worker);

}  // namespace ps::server
