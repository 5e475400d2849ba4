#include "server/admin_worker.h"

#include <spdlog/spdlog.h>

#include "runtime/executor.h"
#include "server/json_response.h"

namespace ps::server {

AdminWorker::AdminWorker() : worker_(std::make_unique<runtime::Executor>(1, "admin")) {}

AdminWorker::~AdminWorker() { close(); }

void AdminWorker::run(HttpResponder respond, std::function<HttpResponse()> work) {
  std::lock_guard lock(mutex_);
  if (!worker_) return respond(error_response(503, "the daemon is shutting down"));
  worker_->post(0, [respond = std::move(respond), work = std::move(work)] {
    try {
      respond(work());
    } catch (const std::exception& e) {
      spdlog::error("admin: {}", e.what());
      respond(error_response(500, "the request failed", {e.what()}));
    }
  });
}

void AdminWorker::close() {
  std::unique_ptr<runtime::Executor> worker;
  {
    std::lock_guard lock(mutex_);
    worker = std::move(worker_);
  }
  worker.reset();  // finishes what was posted
}

}  // namespace ps::server
