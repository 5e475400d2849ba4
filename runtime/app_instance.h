#pragma once
// An app installed for one team: its settings, its sandbox, and the rules
// around it: setupPlugin before anything else (retried with backoff capped
// at setup_backoff_max, for as long as it fails: a failure may be passing),
// every call on the instance's own thread, metrics per call, and a fresh
// isolate when the old one broke a limit.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/app_health.h"
#include "runtime/console_budget.h"
#include "runtime/export_buffer.h"
#include "runtime/instance_log.h"
#include "runtime/limits.h"
#include "runtime/sandbox.h"

namespace ps::metrics {
class Registry;
class Counter;
class Gauge;
class Histogram;
}  // namespace ps::metrics

namespace ps::runtime {

class Executor;
class Watchdog;

// What every instance shares: threads, watchdog, host services, limits, metrics.
struct InstanceEnvironment {
  Executor* executor = nullptr;
  Watchdog* watchdog = nullptr;
  CodeCache* code_cache = nullptr;
  HostServices host;
  Limits limits;
  metrics::Registry* metrics = nullptr;
  int setup_attempts = 3;  // failed attempts before the loader hears that the instance is not ready
  std::chrono::milliseconds setup_backoff{1000};  // doubled after each failed attempt...
  std::chrono::milliseconds setup_backoff_max{300000};  // ...up to this
  std::size_t max_job_payload_bytes = 1u << 20;
  std::size_t max_event_depth = 512;
  ConsoleLimits console;
  InstanceLogLimits kept_log;  // what each instance's recent_log() keeps
  std::size_t max_storage_value_bytes = 1u << 20;
  std::size_t max_cache_value_bytes = 1u << 20;
  double max_enqueues_per_second = 1000;
  double max_captures_per_second = 1000;
  int max_capture_hops = 10;
  std::size_t max_capture_bytes = 1u << 20;
  std::size_t max_concurrent_fetches = 64;
  std::size_t max_pending_storage_calls = 1000;
  PosthogApiAccess posthog_api;  // [posthog]'s; an [[apps]] entry may bring its own keys
  HealthPolicy health;
};

struct InstanceSettings {
  std::shared_ptr<const Bundle> bundle;
  InstanceId id = 0;
  long long team_id = 0;
  int order = 0;
  std::string config_json = "{}";
  std::string attachments_json = "{}";
  int thread = 0;  // the JS thread it lives on (see ChainPlacement)
  int version = 0;  // of an install made through the admin API; 0: from a file
  PosthogApiAccess posthog_api;
};

// SetupFailed: its setup keeps failing and is retried; calls fail as unavailable meanwhile.
enum class InstanceState { Starting, Ready, SetupFailed, Disabled, Stopped };

class AppInstance : public std::enable_shared_from_this<AppInstance> {
 public:
  AppInstance(InstanceSettings settings, InstanceEnvironment& env);
  ~AppInstance();

  // Creates the sandbox and runs setupPlugin, on the instance's thread.
  // `ready` gets nullopt when the instance is ready, else why it is not
  // (disabled, or setup failing and retried in the background); once.
  void start(std::function<void(std::optional<std::string> error)> ready);
  // Calls an exported method with JSON arguments (meta is appended);
  // `capture_hops` as Sandbox::call has it.
  void call(const std::string& method, std::vector<std::string> args_json, CallDone done, int capture_hops = 0);
  void process_event(std::string event_json, CallDone done, int capture_hops = 0);
  // Runs exported job `name` with its payload (nullopt: the job took none).
  void run_job(std::string name, std::optional<std::string> payload_json, CallDone done);
  // exportEvents: adds a processed event of the team to the instance's
  // export buffer. `durable` runs (on any thread) once the batch holding it
  // is stored in the job queue, whose job then calls exportEvents; at once
  // when the app exports no exportEvents or ignores the event's name.
  void export_event(std::string event_json, std::function<void()> durable);
  // Stores what the export buffer holds now (shutdown, back-pressure).
  void flush_exports();
  // Runs teardownPlugin (if exported), then disposes of the isolate. Calls
  // queued before it fail as unavailable instead of running.
  void stop(std::function<void()> done);

  const std::string& name() const { return settings_.bundle->manifest.name; }
  const std::string& label() const { return label_; }
  const std::string& source() const { return settings_.bundle->source; }
  const Manifest& manifest() const { return settings_.bundle->manifest; }
  InstanceId id() const { return settings_.id; }
  long long team_id() const { return settings_.team_id; }
  int order() const { return settings_.order; }
  int thread() const { return thread_; }
  int version() const { return settings_.version; }
  InstanceState state() const { return state_.load(); }
  std::string disabled_reason() const;
  // Valid once start() reported ready.
  const Exports& exports() const { return exports_; }
  // Whether events of the team go through this instance: false once its
  // module is known to have no processEvent (it is then not in the chain).
  bool processes_events() const { return processes_events_.load(); }
  // Its cost budget and what it allows (see AppHealth); any thread.
  HealthSnapshot health() const;
  // An operator's re-enable after its health suspended or disabled it:
  // false if it was neither.
  bool enable();
  // Its recent console lines and failed calls, oldest first.
  std::vector<InstanceLogLine> recent_log() { return recent_log_.recent(); }
  // Calls into its JS so far, and how many of them failed.
  std::uint64_t calls() const { return calls_.load(); }
  std::uint64_t failures() const { return failures_.load(); }

 private:
  struct MethodMetrics;
  MethodMetrics& metrics_for(const std::string& method);
  // Runs `task` on the instance's thread, in its team's lane.
  void on_thread(std::function<void()> task);
  void on_thread_after(std::chrono::milliseconds delay, std::function<void()> task);
  void create_sandbox(int attempt, std::function<void(std::optional<std::string>)> ready);
  void run_setup(int attempt, std::function<void(std::optional<std::string>)> ready);
  void retry_setup(int attempt, const std::string& error, std::function<void(std::optional<std::string>)> ready);
  void disable(const std::string& reason);
  CallDone observed(const std::string& method, CallDone done);
  // Charges a finished call to the instance's health budget.
  void charge(const CallOutcome& outcome, std::chrono::steady_clock::duration wall);
  void report(const HealthTransition& transition);
  void when_ready(CallDone done, std::function<void(CallDone)> start);
  void replace_sandbox();
  void log(const std::string& level, const std::string& text);
  void store_export_batch(std::shared_ptr<ExportBatch> batch, int attempt);
  // On the instance's thread: split it, give it up, or store it again later.
  void export_batch_not_stored(std::shared_ptr<ExportBatch> batch, int attempt, const std::string& error);
  void take_export_batch();

  InstanceSettings settings_;
  InstanceEnvironment& env_;
  std::string label_;
  int thread_;
  std::atomic<InstanceState> state_{InstanceState::Starting};
  mutable std::mutex reason_mutex_;
  std::string disabled_reason_;
  Exports exports_;
  std::atomic<bool> processes_events_{true};
  std::atomic<bool> stopping_{false};  // stop() was called: queued calls fail
  InstanceLog recent_log_;
  std::atomic<std::uint64_t> calls_{0};
  std::atomic<std::uint64_t> failures_{0};
  // Touched only on the instance's thread:
  std::shared_ptr<Sandbox> sandbox_;
  bool replacing_ = false;
  std::map<std::string, std::unique_ptr<MethodMetrics>> method_metrics_;
  metrics::Gauge* heap_gauge_ = nullptr;
  int calls_since_heap_sample_ = 0;
  std::map<std::string, metrics::Counter*> console_counters_;
  ConsoleBudget console_budget_;
  metrics::Counter* console_dropped_ = nullptr;
  AppHealth health_;
  std::map<HealthState, metrics::Gauge*> state_gauges_;
  // The sandbox's time on its thread already charged (it counts from zero
  // in each new sandbox).
  std::chrono::nanoseconds charged_time_{0};
  std::unique_ptr<ExportBuffer> export_buffer_;  // made on the first exported event
  std::uint64_t export_batches_ = 0;  // batches taken: a timer for an earlier one does nothing
};

}  // namespace ps::runtime
