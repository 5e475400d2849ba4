#pragma once
// The inside of a Sandbox, shared by the files that implement it:
// sandbox.cpp (the isolate, loading the module, calls under the limits) and
// sandbox_host.cpp (the host functions behind fetch, storage and jobs, which
// carry async work back to the isolate's thread). Not for other includes: it
// brings in V8.

#include <chrono>
#include <map>

#include <v8.h>

#include "base/token_bucket.h"
#include "json/scan.h"
#include "runtime/api/host_functions.h"
#include "runtime/array_buffer_allocator.h"
#include "runtime/js_safe.h"
#include "runtime/sandbox.h"

namespace ps::runtime {

using v8::Local;

// Marks the entries into JS made for one event with its capture hops, for
// as long as the entry (and, through V8, its promise reactions) runs.
class CaptureHopsScope {
 public:
  CaptureHopsScope(Local<v8::Context> context, int hops) : context_(context) {
    if (hops > 0) context_->SetContinuationPreservedEmbedderData(v8::Integer::New(context_->GetIsolate(), hops));
  }
  ~CaptureHopsScope() { context_->SetContinuationPreservedEmbedderData(v8::Undefined(context_->GetIsolate())); }
  CaptureHopsScope(const CaptureHopsScope&) = delete;
  CaptureHopsScope& operator=(const CaptureHopsScope&) = delete;

  // The hops of the event the running code works for (0: none).
  static int current(Local<v8::Context> context) {
    auto value = context->GetContinuationPreservedEmbedderData();
    return value->IsInt32() ? value.As<v8::Int32>()->Value() : 0;
  }

 private:
  Local<v8::Context> context_;
};

// Adds the time it lives to `total`: how long the isolate held its thread.
class TimeOnThread {
 public:
  explicit TimeOnThread(std::chrono::nanoseconds& total) : total_(total), started_(std::chrono::steady_clock::now()) {}
  ~TimeOnThread() { total_ += std::chrono::steady_clock::now() - started_; }
  TimeOnThread(const TimeOnThread&) = delete;
  TimeOnThread& operator=(const TimeOnThread&) = delete;

 private:
  std::chrono::nanoseconds& total_;
  std::chrono::steady_clock::time_point started_;
};

struct Sandbox::Impl {
  SandboxOptions opt;
  std::weak_ptr<Sandbox> self;
  CappedAllocatorState allocator_state;
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator;
  v8::Isolate* isolate = nullptr;
  v8::Global<v8::Context> context;
  // The prelude's helpers, looked up once, before any app code runs.
  v8::Global<v8::Function> process_event_wrapper;
  v8::Global<v8::Function> make_meta_fn;
  v8::Global<v8::Function> run_job_fn;
  v8::Global<v8::Function> start_main_fn;  // module, exports, require for the main file
  v8::Global<v8::Function> app_exports_fn;  // where the app's hooks are, once it ran
  v8::Global<v8::String> label;
  v8::Global<v8::Object> meta;
  std::map<std::string, v8::Global<v8::Function>> methods;
  v8::Global<v8::Value> exported_jobs;  // until meta takes it over
  Exports exports;

  struct PendingCall {
    v8::Global<v8::Promise> promise;
    CallDone done;
  };
  std::map<std::uint64_t, PendingCall> calls;
  std::uint64_t next_call = 1;
  std::map<std::uint64_t, v8::Global<v8::Promise::Resolver>> ops;
  std::uint64_t next_op = 1;
  bool heap_exceeded = false;
  bool broken = false;
  std::chrono::nanoseconds time_on_thread{0};  // every entry into JS, added up
  base::TokenBucket enqueue_rate;
  base::TokenBucket capture_rate;
  std::size_t timers = 0;  // sleeps pending
  std::size_t fetches = 0;  // fetch and posthog.api requests in flight
  std::size_t storage_calls = 0;  // storage calls not yet answered
  api::ApiLimits api_limits;  // for the functions of runtime/api; lives as long as the context

  explicit Impl(SandboxOptions options) : opt(std::move(options)), enqueue_rate(opt.max_enqueues_per_second), capture_rate(opt.max_captures_per_second) {}

  // Rejects `resolver` with a RangeError for a quota, and reports it.
  void refuse_for_quota(Local<v8::Promise::Resolver> resolver, const char* quota, const std::string& message);

  ~Impl();

  Local<v8::Context> ctx() const { return context.Get(isolate); }

  // --- set-up -------------------------------------------------------------

  static std::size_t near_heap_limit(void* data, std::size_t current, std::size_t);

  void create_isolate();

  template <auto Callback>
  void add_host_function(Local<v8::Object> host, const char* name);

  void install_prelude();

  std::string where(Local<v8::Message> message);

  // A required bundle file: a function to run, or a JSON file's text. Empty
  // with an exception thrown when it cannot be.
  v8::MaybeLocal<v8::Value> compile_module(const std::string& path);

  void load_module();

  // Host code that may run app code while loading (export getters, the
  // prelude on app values): under the CPU limit; throws AppError naming
  // `what` when `body` returns false (a JS exception) or breaks a limit.
  template <class Body>
  void load_step(const std::string& what, Body body);

  bool read_exports(Local<v8::Object> ns);

  bool make_meta();

  // --- calls --------------------------------------------------------------

  std::string cpu_limit_text() const;
  std::string heap_limit_text() const;

  CallOutcome failure_of(v8::TryCatch& tc, bool cpu_fired);
  std::string with_allocator_note(std::string text);

  // Runs `fn` under the CPU limit and settles or parks its result.
  void invoke(Local<v8::Function> fn, std::vector<Local<v8::Value>>& argv, CallDone done, int capture_hops = 0);

  CallOutcome settled_value(Local<v8::Value> value);

  void park(Local<v8::Promise> promise, CallDone done);

  void expire(std::uint64_t id);

  // Completes parked calls whose promises have settled.
  void settle_calls();

  // After any entry into JS: settle what settled; a broken limit in async
  // code cannot be pinned on one call, so it fails them all.
  void after_entry(bool terminated_async);

  // Fails every call still waiting for its promise.
  void fail_pending(Failure failure, const std::string& text);

  // Any later entry into JS (settling a host operation and the reactions it
  // starts): `body`, then the microtasks, all under the CPU limit.
  void enter(const std::function<void()>& body);

  // processEvent's result checked on its text, where the app cannot reach:
  // an object, nested within the limit, with the team_id it came with.
  CallOutcome checked_event(CallOutcome outcome, const json::ScannedField& team_before) const;

  // --- host operations ------------------------------------------------------

  static Impl& from(const v8::FunctionCallbackInfo<v8::Value>& info);

  // Argument `i` as text, or nullopt with a TypeError thrown naming `what`.
  static std::optional<std::string> string_arg(const v8::FunctionCallbackInfo<v8::Value>& info, int i,
                                               const char* what);
  // Argument `i`, an array of [name, value] string pairs (or anything else:
  // none), appended to `headers`; false with an exception thrown when not.
  static bool header_pairs(const v8::FunctionCallbackInfo<v8::Value>& info, int i, HeaderList& headers,
                           const char* who);

  std::uint64_t add_op(Local<v8::Promise::Resolver> resolver);

  // A callback for a host operation: carries the result back to this
  // sandbox's thread, then settles the operation's promise with `settle`.
  template <class Result>
  std::function<void(Result)> completion(std::uint64_t id,
                                         void (*settle)(Impl&, Local<v8::Promise::Resolver>, Result&));

  void reject(Local<v8::Promise::Resolver> resolver, Local<v8::Value> error);
  void resolve(Local<v8::Promise::Resolver> resolver, Local<v8::Value> value);

  // Starts a host operation: gives JS its promise and returns the resolver,
  // or rejects the promise at once (and returns an empty handle) when the
  // service behind it is not available here.
  static Local<v8::Promise::Resolver> begin_op(const v8::FunctionCallbackInfo<v8::Value>& info, bool available,
                                               Local<v8::Value> (*error)(Local<v8::String>), const char* unavailable);

  static void host_log(const v8::FunctionCallbackInfo<v8::Value>& info);

  static void host_fetch(const v8::FunctionCallbackInfo<v8::Value>& info);

  static void settle_fetch(Impl& impl, Local<v8::Promise::Resolver> resolver, FetchResult& result);
  // Counts a request against runtime.fetch_max_concurrent; false (and the
  // promise rejected, naming `who`) when the app is at it.
  bool take_fetch_slot(Local<v8::Promise::Resolver> resolver, const char* who);

  static void settle_storage(Impl& impl, Local<v8::Promise::Resolver> resolver, StorageResult& result);

  enum class StorageOp { Get, Set, Del };
  template <StorageOp Op>
  static void host_storage(const v8::FunctionCallbackInfo<v8::Value>& info);

  static void settle_enqueue(Impl& impl, Local<v8::Promise::Resolver> resolver, std::optional<std::string>& error);

  // enqueueJob(name, payloadJSON | undefined, runAtMs): resolves once the job is durable.
  static void host_enqueue_job(const v8::FunctionCallbackInfo<v8::Value>& info);

  // sleep(ms): a promise resolved on this isolate's thread after `ms`; the
  // prelude's timers are made of it. At most kMaxTimers pending.
  static constexpr std::size_t kMaxTimers = 10000;
  static void host_sleep(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void settle_sleep(Impl& impl, Local<v8::Promise::Resolver> resolver, bool&);

  // loadModule(path): compile_module for the prelude's require.
  static void host_load_module(const v8::FunctionCallbackInfo<v8::Value>& info);
  // resolveModule(referrer, specifier): the bundle path, or undefined.
  static void host_resolve_module(const v8::FunctionCallbackInfo<v8::Value>& info);

  // cacheCommand(space, verb, key, [args]): a Redis command on the
  // instance's own key; resolves to null, a number, a string or an array.
  static void host_cache_command(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void settle_cache(Impl& impl, Local<v8::Promise::Resolver> resolver, redis::Reply& reply);

  // geoipLocate(ip): resolves to the record's JSON text, or null.
  static void host_geoip_locate(const v8::FunctionCallbackInfo<v8::Value>& info);

  // captureEvent(dataJSON, distinctId, timestamp, uuid): produces the event
  // for the instance's team; resolves once the broker has it.
  static void host_capture_event(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void settle_capture(Impl& impl, Local<v8::Promise::Resolver> resolver, std::optional<std::string>& error);
  // posthogApi(method, path, query, body, host, personalApiKey, projectApiKey,
  // headers): a request to the analytics API, answered as fetch answers.
  static void host_posthog_api(const v8::FunctionCallbackInfo<v8::Value>& info);

  static void host_storage_get(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void host_storage_set(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void host_storage_del(const v8::FunctionCallbackInfo<v8::Value>& info);
};

}  // namespace ps::runtime
