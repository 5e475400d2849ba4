#include "server/daemon.h"

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "db/pool.h"
#include "ingestion/capture_producer.h"
#include "ingestion/event_pipeline.h"
#include "ingestion/mock_broker.h"
#include "ingestion/sample_events.h"
#include "metrics/process_metrics.h"
#include "metrics/registry.h"
#include "runtime/app_runtime.h"
#include "scheduler/job_enqueuer.h"
#include "scheduler/job_queue.h"
#include "ingestion/message_parser.h"
#include "server/admin_apps.h"
#include "server/admin_auth.h"
#include "server/admin_jobs.h"
#include "server/admin_worker.h"
#include "server/admin_instances.h"
#include "server/http_server.h"
#include "server/install_store.h"
#include "server/install_sync.h"
#include "server/json_response.h"
#include "server/postgres_monitor.h"
#include "server/readiness.h"

namespace ps::server {

// Declared in start-up order; destroyed in reverse, which is shutdown order.
struct Daemon::Parts {
  metrics::Registry metrics;
  Readiness readiness;
  std::unique_ptr<db::Pool> pool;
  std::unique_ptr<PostgresMonitor> postgres_monitor;
  std::unique_ptr<scheduler::JobEnqueuer> enqueuer;
  std::unique_ptr<ingestion::MockBroker> embedded_broker;
  std::string brokers;  // bootstrap servers; empty when the broker clients cannot start
  std::unique_ptr<ingestion::CaptureProducer> capture;
  std::unique_ptr<runtime::AppRuntime> runtime;
  std::unique_ptr<scheduler::JobQueue> jobs;
  std::unique_ptr<ingestion::EventPipeline> pipeline;
  std::unique_ptr<ingestion::SampleEvents> samples;
  std::atomic<bool> apps_loaded{false};
  std::atomic<bool> stopping{false};
  std::thread app_loader;
  std::unique_ptr<InstallSync> install_sync;  // made by app_loader
  std::unique_ptr<AdminWorker> admin_worker;
  std::unique_ptr<HttpServer> http;
};

Daemon::Daemon(config::Config config) : config_(std::move(config)) {}

Daemon::~Daemon() { stop(); }

HttpRoutes Daemon::routes() {
  auto& p = *parts_;
  HttpRoutes routes;
  routes.insert(get_route("/_health", [] { return HttpResponse{200, "application/json", "{\"status\":\"ok\"}"}; }));
  routes.insert(get_route("/_ready", [&p] {
    auto report = p.readiness.report();
    return HttpResponse{report.ready ? 200 : 503, "application/json", report.json};
  }));
  routes.insert(get_route("/metrics", [&p] {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", p.metrics.render()};
  }));
  // What changes or reveals the apps needs the admin token.
  auto auth = std::make_shared<AdminAuth>(config_.http.admin_token);
  auto admin = [auth](HttpHandler handler) -> HttpHandler {
    return [auth, handler = std::move(handler)](const HttpRequest& req, HttpResponder respond) {
      if (auto refusal = auth->refusal(req)) return respond(*refusal);
      handler(req, std::move(respond));
    };
  };
  add_instance_routes(routes, admin, p.runtime->registry());
  // Runs one event through its team's apps and answers with the result,
  // without producing it to Kafka: for trying apps out. The apps' own side
  // effects (storage, jobs, fetch) do happen.
  auto max_bytes = static_cast<std::size_t>(config_.kafka.max_message_bytes);
  auto max_depth = static_cast<std::size_t>(config_.kafka.max_nesting_depth);
  routes[{"POST", "/admin/process-event"}] = admin([&p, max_bytes, max_depth](const HttpRequest& req,
                                                                                HttpResponder respond) {
    if (!p.apps_loaded) return respond(json_response(503, {{"error", "apps are not loaded yet"}}));
    // The same rules as an event from Kafka.
    auto parsed = ingestion::parse_message(req.body, max_bytes, max_depth);
    if (auto* dead = std::get_if<ingestion::DeadLetter>(&parsed)) {
      return respond(json_response(400, {{"error", "not an event: " + dead->reason}}));
    }
    auto& event = std::get<ingestion::ParsedEvent>(parsed);
    p.runtime->chain().process(event.team_id, std::move(event.json), [respond](runtime::ChainResult r) {
      // The event is JSON text the host already checked: placed as it is.
      auto text = [](const nlohmann::json& value) {
        return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      };
      respond({200, "application/json",
               "{\"event\":" + (r.event ? *r.event : std::string("null")) + ",\"dropped_by\":" +
                   text(r.dropped_by) + ",\"failed\":" + text(r.failed) + ",\"skipped\":" + text(r.skipped) +
                   "}"});
    });
  });
  add_app_routes(routes, admin, *p.pool, runtime::runtime_options(config_).limits, *p.admin_worker);
  add_job_routes(routes, admin, *p.pool, *p.admin_worker, p.runtime->registry(), p.enqueuer.get());
  return routes;
}

void Daemon::start() {
  parts_ = std::make_unique<Parts>();
  auto& p = *parts_;
  metrics::add_process_metrics(p.metrics);
  p.readiness.set("apps", false, "waiting for migrations");
  p.readiness.set("jobs", false, "waiting for the apps");
  p.readiness.set("ingestion", false, "waiting for the apps");

  p.pool = std::make_unique<db::Pool>(config_.database.url, config_.database.pool_size,
                                      std::chrono::milliseconds(config_.database.connect_timeout_ms));
  scheduler::EnqueuerOptions enqueuer;
  enqueuer.database_url = config_.database.url;
  enqueuer.connect_timeout = std::chrono::milliseconds(config_.database.connect_timeout_ms);
  enqueuer.max_attempts = config_.jobs.max_attempts;
  enqueuer.max_queued_per_instance = config_.jobs.max_queued_per_app;
  p.enqueuer = std::make_unique<scheduler::JobEnqueuer>(enqueuer, p.metrics);
  // Apps may capture from setupPlugin on: the broker's producer comes first.
  start_broker_clients();
  p.runtime = std::make_unique<runtime::AppRuntime>(runtime::runtime_options(config_), p.pool.get(), p.metrics,
                                                    p.enqueuer.get(), p.capture.get());
  // Redis matters once an app uses meta.cache; a daemon whose apps do not
  // is ready without it. (HTTP, which asks the probe, closes before the runtime goes.)
  if (const auto* redis = p.runtime->redis()) {
    p.readiness.set_probe("redis", [redis](std::string* detail) {
      if (redis->used()) return redis->reachable(detail);
      *detail = "not used by any app yet";
      return true;
    });
  }
  p.admin_worker = std::make_unique<AdminWorker>();
  p.http = std::make_unique<HttpServer>(config_.http.host, config_.http.port, routes());
  spdlog::info("http: serving on {}:{}", config_.http.host, p.http->port());
  p.postgres_monitor = std::make_unique<PostgresMonitor>(*p.pool, p.readiness, p.metrics);

  // Instances need their ids from Postgres: load them once the schema is there.
  p.app_loader = std::thread([this, &p] {
    while (!p.postgres_monitor->migrated()) {
      if (p.stopping) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    p.runtime->load(apps_to_load());
    p.apps_loaded = true;
    int ready = 0, other = 0;
    for (const auto& s : p.runtime->registry().status()) (s.state == "ready" ? ready : other)++;
    p.readiness.set("apps", true, std::to_string(ready) + " ready, " + std::to_string(other) + " not running");
    // Jobs run in the apps: claim them only once the apps are there.
    p.jobs = std::make_unique<scheduler::JobQueue>(scheduler::job_queue_options(config_), p.runtime->registry(),
                                                   p.metrics);
    p.readiness.set("jobs", true);
    if (p.stopping) return;
    start_ingestion();
    // From now on installs made through the admin API reach this daemon as they change.
    p.install_sync = std::make_unique<InstallSync>(config_.database.url, *p.pool, p.runtime->registry(),
                                                   std::chrono::milliseconds(config_.server.reconcile_interval_ms));
  });
  spdlog::info("plugin-server started");
}

std::vector<config::AppConfig> Daemon::apps_to_load() {
  auto apps = config_.apps;
  // Installs made through the admin API come after the config file's apps:
  // on a name clash for a team the config file's wins, and the install is
  // reported as refused in /apps.
  try {
    InstallStore store(*parts_->pool);
    auto installed = store.runnable();
    store.add_archives(installed, [](const config::AppConfig&) { return true; });
    if (!installed.empty()) spdlog::info("apps: {} install(s) from the admin API", installed.size());
    apps.insert(apps.end(), std::make_move_iterator(installed.begin()), std::make_move_iterator(installed.end()));
  } catch (const std::exception& e) {
    spdlog::error("apps: cannot read the installs made through the admin API; running the config file's apps only: {}",
                  e.what());
  }
  return apps;
}

void Daemon::start_broker_clients() {
  auto& p = *parts_;
  const auto& k = config_.kafka;
  try {
    std::string brokers = k.brokers;
    if (brokers == "embedded") {
      p.embedded_broker = std::make_unique<ingestion::MockBroker>(
          1, std::vector<ingestion::TopicSpec>{{k.input_topic, k.embedded_partitions},
                                               {k.output_topic, k.embedded_partitions},
                                               {k.dlq_topic, 1}});
      brokers = p.embedded_broker->bootstrap();
      spdlog::warn("kafka: using the embedded development broker at {}: it keeps nothing and is not for production",
                   brokers);
    }
    ingestion::CaptureOptions capture;
    capture.brokers = brokers;
    capture.topic = k.input_topic;
    capture.max_message_bytes = static_cast<std::size_t>(k.max_message_bytes);
    capture.delivery_timeout = std::chrono::milliseconds(config_.runtime.task_timeout_ms);
    p.capture = std::make_unique<ingestion::CaptureProducer>(capture, p.metrics);
    p.brokers = brokers;
  } catch (const std::exception& e) {
    spdlog::error("kafka: cannot start: {}", e.what());
    p.readiness.set("ingestion", false, e.what());
  }
}

void Daemon::start_ingestion() {
  auto& p = *parts_;
  const auto& k = config_.kafka;
  if (p.brokers.empty()) return;  // start_broker_clients said why
  try {
    ingestion::PipelineOptions o;
    o.brokers = p.brokers;
    o.group_id = k.group_id;
    o.input_topic = k.input_topic;
    o.output_topic = k.output_topic;
    o.dlq_topic = k.dlq_topic;
    o.max_message_bytes = static_cast<std::size_t>(k.max_message_bytes);
    o.max_depth = static_cast<std::size_t>(k.max_nesting_depth);
    o.max_in_flight = static_cast<std::size_t>(k.max_in_flight);
    o.max_in_flight_per_team = std::max<std::size_t>(1, o.max_in_flight * k.team_share_percent / 100);
    o.max_parked_bytes = static_cast<std::size_t>(k.max_parked_mb) << 20;
    o.session_timeout_ms = k.session_timeout_ms;
    p.pipeline = std::make_unique<ingestion::EventPipeline>(o, p.runtime->chain(), p.metrics);
    auto* pipeline = p.pipeline.get();
    p.readiness.remove("ingestion");
    p.readiness.set_probe("ingestion", [pipeline](std::string* detail) { return pipeline->connected(detail); });
    if (k.sample_events_per_second > 0) {
      p.samples = std::make_unique<ingestion::SampleEvents>(p.brokers, k.input_topic, k.sample_events_per_second);
    }
  } catch (const std::exception& e) {
    spdlog::error("ingestion: cannot start: {}", e.what());
    p.readiness.set("ingestion", false, e.what());
  }
}

void Daemon::stop() {
  if (!parts_) return;
  spdlog::info("shutting down (grace period {} ms)", config_.server.shutdown_grace_ms);
  auto& p = *parts_;
  // Tell load balancers first, while the HTTP endpoint still answers.
  p.readiness.set("shutdown", false, "shutting down");
  p.stopping = true;
  // start() may have failed part-way: stop what did start.
  if (p.app_loader.joinable()) p.app_loader.join();
  // No reloads during shutdown.
  p.install_sync.reset();
  // Intake first: no new events, in-flight ones settle within the grace period.
  p.samples.reset();
  if (p.pipeline) {
    p.readiness.remove("ingestion");
    p.pipeline->stop(std::chrono::milliseconds(config_.server.shutdown_grace_ms));
  }
  if (p.jobs) p.jobs->stop(std::chrono::milliseconds(config_.server.shutdown_grace_ms));
  // Jobs that outlived the grace period report to the queue until the runtime stops.
  if (p.runtime) p.runtime->stop();
  // HTTP handlers use the runtime: close HTTP before the runtime goes.
  // Admin requests under way answer first, while there is HTTP to answer on.
  if (p.admin_worker) p.admin_worker->close();
  p.http.reset();
  p.pipeline.reset();
  p.jobs.reset();
  // Captures still unacknowledged get their answer (into the JS threads,
  // still there) before the broker goes.
  p.capture.reset();
  p.embedded_broker.reset();
  // The enqueuer's last commits answer into the runtime's JS threads: it
  // goes first, while they are there.
  p.enqueuer.reset();
  p.runtime.reset();
  p.postgres_monitor.reset();
  p.pool.reset();
  parts_.reset();
  spdlog::info("plugin-server stopped");
}

int Daemon::http_port() const { return parts_ && parts_->http ? parts_->http->port() : 0; }

}  // namespace ps::server
