#pragma once
// The thread the admin API's slow requests run on (Postgres queries, a V8
// isolate to check an upload): one request at a time, never on the HTTP
// thread. A failure of Postgres or of the code answers 500 with its reason.

#include <functional>
#include <memory>
#include <mutex>

#include "server/http_server.h"

namespace ps::runtime {
class Executor;
}

namespace ps::server {

class AdminWorker {
 public:
  AdminWorker();
  ~AdminWorker();
  AdminWorker(const AdminWorker&) = delete;
  AdminWorker& operator=(const AdminWorker&) = delete;

  // Runs `work` on the worker and answers what it returns; 503 once closed.
  void run(HttpResponder respond, std::function<HttpResponse()> work);
  // Finishes the requests under way; later ones answer 503. Before the
  // HTTP server goes, which the answers are written to.
  void close();

 private:
  std::mutex mutex_;
  std::unique_ptr<runtime::Executor> worker_;  // null once closed
};

}  // namespace ps::server
