#pragma once
// The running daemon: owns every part and starts and stops them in order.

#include <memory>
#include <vector>

#include "config/config.h"
#include "server/http_server.h"

namespace ps::server {

class Daemon {
 public:
  explicit Daemon(config::Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts every part. Throws when one cannot start (the HTTP address is taken).
  void start();
  // Orderly shutdown: stop intake, finish in-flight work within
  // server.shutdown_grace_ms, close connections. Idempotent.
  void stop();

  int http_port() const;

 private:
  struct Parts;
  HttpRoutes routes();
  // The embedded broker (if configured) and posthog.capture's producer.
  void start_broker_clients();
  void start_ingestion();
  // The config file's [[apps]], then the enabled installs kept in Postgres.
  std::vector<config::AppConfig> apps_to_load();
  config::Config config_;
  std::unique_ptr<Parts> parts_;
};

}  // namespace ps::server
