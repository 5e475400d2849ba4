#pragma once
// The admin API's job routes:
//   GET    /admin/jobs?state=&instance=&limit=   jobs, newest first (limit 100, at most 1000)
//   POST   /admin/jobs/{id}/retry                a failed or discarded job runs again
//   POST   /admin/jobs/retry                     {"state": "failed"|"discarded", "instance": N}: all of them
//   DELETE /admin/jobs/{id}                      cancels a job that is not running
//   POST   /admin/instances/{id}/jobs/{name}     runs a public job of the instance now, its
//                                                payload checked against plugin.json
// Queries run on the admin worker.

#include <functional>

#include "server/http_server.h"

namespace ps::db {
class Pool;
}
namespace ps::runtime {
class AppRegistry;
class JobSink;
}  // namespace ps::runtime

namespace ps::server {

class AdminWorker;

// Everything given must outlive the routes; `jobs` may be null (public jobs then answer 503).
void add_job_routes(HttpRoutes& routes, const std::function<HttpHandler(HttpHandler)>& admin, db::Pool& pool,
                    AdminWorker& worker, runtime::AppRegistry& registry, runtime::JobSink* jobs);

}  // namespace ps::server
