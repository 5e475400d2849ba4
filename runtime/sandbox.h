#pragma once
// One V8 isolate running one app instance's module: the app's exports, its
// `meta`, and calls into its hooks under the CPU, wall-clock and memory
// limits. A Sandbox is created, used and destroyed on one executor thread;
// every callback it makes runs on that thread. V8 stays out of this header.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/bundle.h"
#include "runtime/host_services.h"
#include "runtime/limits.h"

namespace ps::runtime {

class CodeCache;
class Executor;
class Watchdog;

// The app's module threw while loading (a syntax or import error is a BundleError).
class AppError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// posthog.api: where its requests go and the keys they carry. The keys stay
// on the host: no app code ever sees them.
struct PosthogApiAccess {
  std::string url;  // posthog.api_url; empty: posthog.api rejects unless the app names a host
  std::string personal_api_key;
  std::string project_api_key;
  // The personal key is the daemon's, shared by every team: with it, an app
  // reaches its own project's paths only.
  bool shared_key = true;
};

struct SandboxOptions {
  std::shared_ptr<const Bundle> bundle;
  std::string label;  // "name (instance id)": in logs and $plugins_succeeded/failed
  InstanceId instance_id = 0;
  long long team_id = 0;  // posthog.capture's and posthog.api's team
  std::size_t max_event_depth = 512;  // deeper processEvent results are refused
  std::string config_json = "{}";
  std::string attachments_json = "{}";
  Limits limits;
  HostServices host;
  Watchdog* watchdog = nullptr;
  Executor* executor = nullptr;
  CodeCache* code_cache = nullptr;  // shared by the process's sandboxes; null: every isolate compiles
  int thread = 0;  // the executor thread this sandbox lives on
  std::size_t max_job_payload_bytes = 1u << 20;
  std::size_t max_log_line_bytes = 16 * 1024;  // console text beyond it is cut
  std::size_t max_storage_value_bytes = 1u << 20;  // storage.set of a larger value is refused
  std::size_t max_cache_value_bytes = 1u << 20;    // meta.cache values (all of one call's) beyond it are refused
  double max_enqueues_per_second = 1000;             // jobs run*() over the rate is refused
  std::size_t max_concurrent_fetches = 64;           // fetch and posthog.api requests in flight; more are refused
  std::size_t max_pending_storage_calls = 1000;      // storage calls not yet answered; more are refused
  double max_captures_per_second = 1000;             // posthog.capture over the rate is refused
  int max_capture_hops = 10;                         // posthog.capture beyond this many in a row is dropped
  std::size_t max_capture_bytes = 1u << 20;          // a captured event's JSON beyond it is refused
  PosthogApiAccess posthog_api;
  std::function<void(const std::string& level, const std::string& text)> log;
  // Hears each call refused for a quota ("storage_value_bytes", "enqueue_rate").
  std::function<void(const char* quota)> refused;
};

// What an app's module exports, as the daemon uses it.
struct Exports {
  std::vector<std::string> methods;          // exported hook functions, in a fixed order
  std::vector<std::string> jobs;             // names in the exported `jobs` object
  std::vector<std::string> scheduled_tasks;  // runEveryMinute/Hour/Day among the methods
  bool has(const std::string& method) const;
};

// Skipped: the instance's health let the call pass it by (see AppHealth).
enum class Failure { None, Error, CpuLimit, WallLimit, HeapLimit, Unavailable, Skipped };

struct CallOutcome {
  Failure failure = Failure::None;
  // The call's string result (processEvent: the event's JSON; null dropped it).
  std::optional<std::string> value;
  std::string error;  // set when failure != None

  bool ok() const { return failure == Failure::None; }
};

using CallDone = std::function<void(CallOutcome)>;

class Sandbox : public std::enable_shared_from_this<Sandbox> {
 public:
  // Creates the isolate, installs the globals and evaluates the bundle's main
  // module. Throws BundleError (syntax or import error) or AppError (the
  // module threw).
  static std::shared_ptr<Sandbox> create(SandboxOptions options);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  const Exports& exports() const;

  // Calls exported hook `method` with JSON arguments followed by meta.
  // `capture_hops`: how many captures led to the event the call is about
  // (0 for an event nobody captured); posthog.capture in the call, and in
  // everything it awaits, counts one more.
  void call(const std::string& method, const std::vector<std::string>& args_json, CallDone done,
            int capture_hops = 0);
  // processEvent with the event rules; the outcome's value is the new event
  // JSON, or nullopt when the app dropped it.
  void process_event(const std::string& event_json, CallDone done, int capture_hops = 0);
  // Runs exported job `name` as fn(payload, meta), or fn(meta) without a payload.
  void run_job(const std::string& name, const std::optional<std::string>& payload_json, CallDone done);

  // True once the isolate hit a limit that leaves it unusable (heap): the
  // owner must replace it. Calls still in flight have been failed.
  bool broken() const;
  std::size_t heap_used_bytes() const;
  std::size_t pending_calls() const;
  // How long its JS ran on its thread, all entries added up.
  std::chrono::nanoseconds time_on_thread() const;

 private:
  struct Impl;
  explicit Sandbox(SandboxOptions options);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ps::runtime
