#include "server/daemon.h"

#include <spdlog/spdlog.h>

#include "db/pool.h"
#include "metrics/process_metrics.h"
#include "metrics/registry.h"
#include "server/http_server.h"
#include "server/postgres_monitor.h"
#include "server/readiness.h"

namespace ps::server {

// Declared in start-up order; destroyed in reverse, which is shutdown order.
struct Daemon::Parts {
  metrics::Registry metrics;
  Readiness readiness;
  std::unique_ptr<db::Pool> pool;
  std::unique_ptr<PostgresMonitor> postgres_monitor;
  std::unique_ptr<HttpServer> http;
};

Daemon::Daemon(config::Config config) : config_(std::move(config)) {}

Daemon::~Daemon() { stop(); }

void Daemon::start() {
  parts_ = std::make_unique<Parts>();
  auto& p = *parts_;
  metrics::add_process_metrics(p.metrics);

  HttpRoutes routes;
  routes["/_health"] = [] { return HttpResponse{200, "application/json", "{\"status\":\"ok\"}"}; };
  routes["/_ready"] = [&p] {
    auto report = p.readiness.report();
    return HttpResponse{report.ready ? 200 : 503, "application/json", report.json};
  };
  routes["/metrics"] = [&p] {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", p.metrics.render()};
  };
  p.http = std::make_unique<HttpServer>(config_.http.host, config_.http.port, std::move(routes));
  spdlog::info("http: serving /_health, /_ready and /metrics on {}:{}", config_.http.host, p.http->port());

  p.pool = std::make_unique<db::Pool>(config_.database.url, config_.database.pool_size,
                                      std::chrono::milliseconds(config_.database.connect_timeout_ms));
  p.postgres_monitor = std::make_unique<PostgresMonitor>(*p.pool, p.readiness, p.metrics);

  spdlog::warn("ingestion is not built yet: kafka.brokers = \"{}\" is not used", config_.kafka.brokers);
  spdlog::info("plugin-server started");
}

void Daemon::stop() {
  if (!parts_) return;
  spdlog::info("shutting down (grace period {} ms)", config_.server.shutdown_grace_ms);
  auto& p = *parts_;
  // Tell load balancers first, while the HTTP endpoint still answers.
  p.readiness.set("shutdown", false, "shutting down");
  p.postgres_monitor.reset();
  p.pool.reset();
  p.http.reset();
  parts_.reset();
  spdlog::info("plugin-server stopped");
}

int Daemon::http_port() const { return parts_ && parts_->http ? parts_->http->port() : 0; }

}  // namespace ps::server
