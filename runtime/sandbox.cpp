// One app's isolate: creating it with its limits, the prelude, loading the
// bundle's modules, and calls into the app under the CPU, wall-clock and heap
// limits. The host functions are in sandbox_host.cpp.

#include <algorithm>
#include <filesystem>
#include <limits>

#include "json/edit.h"
#include "runtime/api/host_functions.h"
#include "runtime/cached_compile.h"
#include "runtime/executor.h"
#include "runtime/sandbox_impl.h"
#include "runtime/watchdog.h"

namespace ps::runtime {

extern const char* const kPreludeSource;

namespace {

constexpr const char* kHookNames[] = {"setupPlugin",  "teardownPlugin", "processEvent", "onEvent",
                                      "exportEvents", "runEveryMinute", "runEveryHour", "runEveryDay"};
constexpr const char* kScheduledTasks[] = {"runEveryMinute", "runEveryHour", "runEveryDay"};


}  // namespace

bool Exports::has(const std::string& method) const {
  return std::find(methods.begin(), methods.end(), method) != methods.end();
}

Sandbox::Impl::~Impl() {
  if (!isolate) return;
  {
    v8::Isolate::Scope isolate_scope(isolate);
    fail_pending(Failure::Unavailable, "the app instance stopped before the call settled");
    ops.clear();
    methods.clear();
    meta.Reset();
    exported_jobs.Reset();
    process_event_wrapper.Reset();
    make_meta_fn.Reset();
    run_job_fn.Reset();
    start_main_fn.Reset();
    app_exports_fn.Reset();
    label.Reset();
    context.Reset();
  }
  isolate->Dispose();
}

std::size_t Sandbox::Impl::near_heap_limit(void* data, std::size_t current, std::size_t) {
  auto* impl = static_cast<Impl*>(data);
  impl->heap_exceeded = true;
  impl->isolate->TerminateExecution();
  // Room to finish the allocation under way and unwind: one allocation may
  // be far bigger than the limit (new Array(2**25).fill(1.5) asks 256 MiB at
  // once), and V8 dies if the room is short. The largest single object V8
  // makes is about 1 GiB. The isolate is replaced afterwards.
  return current + std::max<std::size_t>(current, 1100u << 20);
}

void Sandbox::Impl::create_isolate() {
  allocator = make_capped_allocator(opt.limits.heap_bytes, allocator_state);
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = allocator.get();
  params.constraints.ConfigureDefaultsFromHeapSize(0, opt.limits.heap_bytes);
  isolate = v8::Isolate::New(params);
  isolate->SetData(0, this);
  isolate->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  isolate->AddNearHeapLimitCallback(near_heap_limit, this);
}

// The value the prelude's helper object holds under `name` (the prelude
// made it before any app code ran, so these reads cannot be intercepted).
static Local<v8::Function> prelude_function(v8::Isolate* isolate, Local<v8::Context> ctx, Local<v8::Object> helpers,
                                            const char* name) {
  Local<v8::Value> value;
  if (!helpers->Get(ctx, js::message(isolate, name)).ToLocal(&value) || !value->IsFunction()) {
    throw std::logic_error(std::string("the prelude has no function ") + name);
  }
  return value.As<v8::Function>();
}

template <auto Callback>
void Sandbox::Impl::add_host_function(Local<v8::Object> host, const char* name) {
  Local<v8::Function> fn;
  if (!v8::Function::New(ctx(), Callback, v8::External::New(isolate, this)).ToLocal(&fn) ||
      !js::define(ctx(), host, name, fn)) {
    throw std::logic_error(std::string("cannot install the host function ") + name);
  }
}

void Sandbox::Impl::install_prelude() {
  // The prelude is a CommonJS bundle: a function of (module, exports) whose
  // module.exports.default is the factory that takes the host functions.
  v8::TryCatch tc(isolate);
  Local<v8::String> text;
  if (!js::string(isolate, kPreludeSource).ToLocal(&text)) throw std::logic_error("the prelude is too large");
  CachedCompile compile(opt.code_cache, isolate, "plugin-server:prelude.js", kPreludeSource, text);
  Local<v8::String> params[] = {js::message(isolate, "module"), js::message(isolate, "exports")};
  Local<v8::Function> bundle;
  auto module = js::bare_object(isolate);
  auto exports = js::bare_object(isolate);
  Local<v8::Value> bundle_args[] = {module, exports};
  Local<v8::Value> module_exports, factory;
  if (!js::define(ctx(), module, "exports", exports) ||
      !v8::ScriptCompiler::CompileFunction(ctx(), compile.source(), 2, params, 0, nullptr, compile.options())
           .ToLocal(&bundle) ||
      bundle->Call(ctx(), v8::Undefined(isolate), 2, bundle_args).IsEmpty() ||
      !module->Get(ctx(), js::message(isolate, "exports")).ToLocal(&module_exports) || !module_exports->IsObject() ||
      !module_exports.As<v8::Object>()->Get(ctx(), js::message(isolate, "default")).ToLocal(&factory) ||
      !factory->IsFunction()) {
    throw std::logic_error("the prelude does not load: " + js::describe(isolate, tc.Exception()));
  }
  compile.keep(v8::ScriptCompiler::CreateCodeCacheForFunction(bundle));
  auto host = js::bare_object(isolate);
  add_host_function<&Impl::host_log>(host, "log");
  add_host_function<&Impl::host_fetch>(host, "fetch");
  add_host_function<&Impl::host_storage_get>(host, "storageGet");
  add_host_function<&Impl::host_storage_set>(host, "storageSet");
  add_host_function<&Impl::host_storage_del>(host, "storageDel");
  add_host_function<&Impl::host_enqueue_job>(host, "enqueueJob");
  add_host_function<&Impl::host_cache_command>(host, "cacheCommand");
  add_host_function<&Impl::host_geoip_locate>(host, "geoipLocate");
  add_host_function<&Impl::host_capture_event>(host, "captureEvent");
  add_host_function<&Impl::host_posthog_api>(host, "posthogApi");
  add_host_function<&Impl::host_load_module>(host, "loadModule");
  add_host_function<&Impl::host_resolve_module>(host, "resolveModule");
  add_host_function<&Impl::host_sleep>(host, "sleep");
  if (!js::define(ctx(), host, "appName", js::message(isolate, opt.bundle->manifest.name)) ||
      !js::define(ctx(), host, "version", js::message(isolate, PLUGIN_SERVER_VERSION))) {
    throw std::logic_error("cannot install the app's identity");
  }
  api_limits.max_output_bytes = opt.limits.heap_bytes;
  for (auto functions : {api::encoding_functions(), api::crypto_functions(), api::zlib_functions(), api::clone_functions()}) {
    if (!api::install(ctx(), host, functions, api_limits)) throw std::logic_error("cannot install the host functions");
  }
  Local<v8::Value> args[] = {host};
  Local<v8::Value> result;
  if (!factory.As<v8::Function>()->Call(ctx(), v8::Undefined(isolate), 1, args).ToLocal(&result) ||
      !result->IsObject()) {
    throw std::logic_error("prelude failed: " + js::describe(isolate, tc.Exception()));
  }
  auto helpers = result.As<v8::Object>();
  process_event_wrapper.Reset(isolate, prelude_function(isolate, ctx(), helpers, "processEvent"));
  make_meta_fn.Reset(isolate, prelude_function(isolate, ctx(), helpers, "makeMeta"));
  run_job_fn.Reset(isolate, prelude_function(isolate, ctx(), helpers, "runJob"));
  start_main_fn.Reset(isolate, prelude_function(isolate, ctx(), helpers, "startMain"));
  app_exports_fn.Reset(isolate, prelude_function(isolate, ctx(), helpers, "appExports"));
  label.Reset(isolate, js::message(isolate, opt.label));
}

std::string Sandbox::Impl::where(Local<v8::Message> message) {
  if (message.IsEmpty()) return "";
  auto file = js::utf8(isolate, message->GetScriptResourceName()).value_or("");
  int line = message->GetLineNumber(ctx()).FromMaybe(0);
  int column = message->GetStartColumn(ctx()).FromMaybe(0) + 1;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
}

// A bundle file other than the main one, as Node runs it: a function of
// (exports, require, module, __filename, __dirname). Lines and columns in
// errors are the file's own.
v8::MaybeLocal<v8::Value> Sandbox::Impl::compile_module(const std::string& path) {
  auto file = opt.bundle->source + "/" + path;
  auto code = opt.bundle->code.find(path);
  if (code == opt.bundle->code.end()) {
    isolate->ThrowException(v8::Exception::Error(js::message(
        isolate, file + ": required with a computed name; only files required with a literal path can be loaded")));
    return {};
  }
  Local<v8::String> text;
  if (!js::string(isolate, code->second).ToLocal(&text)) {
    isolate->ThrowException(v8::Exception::RangeError(js::message(isolate, file + ": the file is too large")));
    return {};
  }
  // JSON files are data: the prelude parses them.
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) return text;
  v8::TryCatch tc(isolate);
  CachedCompile compile(opt.code_cache, isolate, file, code->second, text);
  Local<v8::String> params[] = {js::message(isolate, "exports"), js::message(isolate, "require"),
                                js::message(isolate, "module"), js::message(isolate, "__filename"),
                                js::message(isolate, "__dirname")};
  Local<v8::Function> fn;
  if (!v8::ScriptCompiler::CompileFunction(ctx(), compile.source(), 5, params, 0, nullptr, compile.options())
           .ToLocal(&fn)) {
    auto message = where(tc.Message()) + js::describe(isolate, tc.Exception());
    tc.Reset();
    isolate->ThrowException(v8::Exception::SyntaxError(js::message(isolate, message)));
    return {};
  }
  compile.keep(v8::ScriptCompiler::CreateCodeCacheForFunction(fn));
  return fn;
}

// The main file runs as a script, as the reference ran it: its top-level
// functions are globals, which is where a script-style app's hooks are.
void Sandbox::Impl::load_module() {
  const auto& main = opt.bundle->manifest.main;
  auto file = opt.bundle->source + "/" + main;
  const auto& code = opt.bundle->code.at(main);
  Local<v8::String> text;
  if (!js::string(isolate, code).ToLocal(&text)) throw BundleError(file + ": the file is too large");
  CachedCompile compile(opt.code_cache, isolate, file, code, text);
  Local<v8::Script> script;
  {
    v8::TryCatch tc(isolate);
    if (!v8::ScriptCompiler::Compile(ctx(), compile.source(), compile.options()).ToLocal(&script)) {
      throw BundleError(where(tc.Message()) + js::describe(isolate, tc.Exception()));
    }
  }
  load_step("preparing the module", [&] {
    Local<v8::Value> args[] = {js::message(isolate, opt.bundle->source), js::message(isolate, main)};
    return !start_main_fn.Get(isolate)->Call(ctx(), v8::Undefined(isolate), 2, args).IsEmpty();
  });
  load_step("loading the module", [&] {
    if (script->Run(ctx()).IsEmpty()) return false;
    isolate->PerformMicrotaskCheckpoint();
    return true;
  });
  compile.keep(v8::ScriptCompiler::CreateCodeCache(script->GetUnboundScript()));
  load_step("reading the module's exports", [&] {
    std::vector<Local<v8::Value>> names;
    for (const char* name : kHookNames) names.push_back(js::message(isolate, name));
    names.push_back(js::message(isolate, "jobs"));
    Local<v8::Value> args[] = {v8::Array::New(isolate, names.data(), names.size())};
    Local<v8::Value> found;
    if (!app_exports_fn.Get(isolate)->Call(ctx(), v8::Undefined(isolate), 1, args).ToLocal(&found)) return false;
    return found->IsObject() && read_exports(found.As<v8::Object>());
  });
}

template <class Body>
void Sandbox::Impl::load_step(const std::string& what, Body body) {
  v8::TryCatch tc(isolate);
  bool ok, fired;
  {
    TimeOnThread timed(time_on_thread);
    Watchdog::Guard guard(*opt.watchdog, isolate, opt.limits.cpu);
    ok = body();
    fired = guard.fired();
  }
  if (fired || heap_exceeded) {
    isolate->CancelTerminateExecution();
    throw AppError(opt.bundle->source + ": " + what + " broke a limit: " +
                   (heap_exceeded ? heap_limit_text() : cpu_limit_text()));
  }
  if (!ok) {
    auto text = tc.HasCaught() ? js::describe(isolate, tc.Exception()) : "unknown error";
    throw AppError(opt.bundle->source + ": " + what + " failed: " + text);
  }
}

// Runs the app's getters (an export may be one, or a Proxy): under load_step.
bool Sandbox::Impl::read_exports(Local<v8::Object> ns) {
  for (const char* name : kHookNames) {
    Local<v8::Value> value;
    if (!ns->Get(ctx(), js::message(isolate, name)).ToLocal(&value)) return false;
    if (value->IsFunction()) {
      exports.methods.push_back(name);
      methods[name].Reset(isolate, value.As<v8::Function>());
    }
  }
  for (const char* task : kScheduledTasks) {
    if (exports.has(task)) exports.scheduled_tasks.push_back(task);
  }
  Local<v8::Value> jobs;
  if (!ns->Get(ctx(), js::message(isolate, "jobs")).ToLocal(&jobs)) return false;
  if (!jobs->IsObject()) return true;
  exported_jobs.Reset(isolate, jobs);
  Local<v8::Array> names;
  if (!jobs.As<v8::Object>()->GetOwnPropertyNames(ctx()).ToLocal(&names)) return false;
  for (uint32_t i = 0; i < names->Length(); ++i) {
    Local<v8::Value> key, value;
    if (!names->Get(ctx(), i).ToLocal(&key) || !jobs.As<v8::Object>()->Get(ctx(), key).ToLocal(&value)) return false;
    auto name = js::utf8(isolate, key);
    if (value->IsFunction() && name) exports.jobs.push_back(std::move(*name));
  }
  return true;
}

// The prelude reads the app's jobs object (its getters may run): under load_step.
bool Sandbox::Impl::make_meta() {
  Local<v8::Value> jobs = exported_jobs.IsEmpty() ? v8::Undefined(isolate).As<v8::Value>() : exported_jobs.Get(isolate);
  Local<v8::String> config, attachments;
  if (!js::string(isolate, opt.config_json).ToLocal(&config) ||
      !js::string(isolate, opt.attachments_json).ToLocal(&attachments)) {
    js::throw_type_error(isolate, "the app's config is too large");
    return false;
  }
  Local<v8::Value> args[] = {config, attachments, jobs};
  Local<v8::Value> result;
  if (!make_meta_fn.Get(isolate)->Call(ctx(), v8::Undefined(isolate), 3, args).ToLocal(&result)) return false;
  if (!result->IsObject()) {
    js::throw_type_error(isolate, "meta is not an object");
    return false;
  }
  meta.Reset(isolate, result.As<v8::Object>());
  exported_jobs.Reset();
  return true;
}

std::string Sandbox::Impl::cpu_limit_text() const {
  return "exceeded the CPU time limit of " + std::to_string(opt.limits.cpu.count()) + " ms";
}

std::string Sandbox::Impl::heap_limit_text() const {
  return "exceeded the heap limit of " + std::to_string(opt.limits.heap_bytes >> 20) + " MiB";
}

CallOutcome Sandbox::Impl::failure_of(v8::TryCatch& tc, bool cpu_fired) {
  if (heap_exceeded) return {Failure::HeapLimit, std::nullopt, heap_limit_text()};
  if (cpu_fired) return {Failure::CpuLimit, std::nullopt, cpu_limit_text()};
  return {Failure::Error, std::nullopt, with_allocator_note(js::describe(isolate, tc.Exception()))};
}

std::string Sandbox::Impl::with_allocator_note(std::string text) {
  if (allocator_state.refused.exchange(false)) {
    text += " (exceeded the ArrayBuffer memory limit of " + std::to_string(opt.limits.heap_bytes >> 20) + " MiB)";
  }
  return text;
}

void Sandbox::Impl::invoke(Local<v8::Function> fn, std::vector<Local<v8::Value>>& argv, CallDone done,
                           int capture_hops) {
  v8::TryCatch tc(isolate);
  Local<v8::Value> result;
  bool fired = false;
  {
    // V8 hands this value on to every promise reaction the call creates, so
    // a capture after any number of awaits still knows the event's hops.
    CaptureHopsScope hops(ctx(), capture_hops);
    TimeOnThread timed(time_on_thread);
    Watchdog::Guard guard(*opt.watchdog, isolate, opt.limits.cpu);
    if (fn->Call(ctx(), v8::Undefined(isolate), static_cast<int>(argv.size()), argv.data()).ToLocal(&result)) {
      isolate->PerformMicrotaskCheckpoint();
    }
    fired = guard.fired();
  }
  // A call that broke the heap limit failed, even if it returned before
  // the termination landed (one big allocation inside a builtin).
  if (result.IsEmpty() || heap_exceeded) {
    auto outcome = failure_of(tc, fired);
    if (heap_exceeded) {
      // Broken before the owner hears of it, so it replaces the isolate.
      broken = true;
      isolate->CancelTerminateExecution();
    }
    done(std::move(outcome));
  } else if (result->IsPromise()) {
    park(result.As<v8::Promise>(), std::move(done));
  } else {
    done(settled_value(result));
  }
  after_entry(fired && !result.IsEmpty());
}

CallOutcome Sandbox::Impl::settled_value(Local<v8::Value> value) {
  if (value->IsString()) return {Failure::None, js::utf8(isolate, value), ""};
  return {};
}

CallOutcome Sandbox::Impl::checked_event(CallOutcome outcome, const json::ScannedField& team_before) const {
  if (!outcome.ok() || !outcome.value) return outcome;
  auto refuse = [](std::string why) { return CallOutcome{Failure::Error, std::nullopt, std::move(why)}; };
  std::string error;
  auto fields = json::scan_top_level(*outcome.value, {opt.max_event_depth}, &error);
  if (!fields) return refuse("processEvent returned an event that is " + error);
  if (!fields->is_object) return refuse("processEvent must return an event object, null or undefined");
  auto shown = [](const json::ScannedField& team) {
    switch (team.kind) {
      case json::ScannedField::absent: return std::string("nothing");
      case json::ScannedField::integer:
      case json::ScannedField::number: return team.text;
      case json::ScannedField::string: return json::quote(team.text);
      default: return std::string("a non-number");
    }
  };
  const auto& team = fields->team_id;
  if (team.kind != team_before.kind || team.text != team_before.text || team.kind == json::ScannedField::other) {
    return refuse("processEvent may not change team_id (from " + shown(team_before) + " to " + shown(team) + ")");
  }
  return outcome;
}

void Sandbox::Impl::park(Local<v8::Promise> promise, CallDone done) {
  auto id = next_call++;
  calls[id] = PendingCall{v8::Global<v8::Promise>(isolate, promise), std::move(done)};
  std::weak_ptr<Sandbox> weak = self;
  opt.executor->post_after(opt.limits.wall, opt.thread, [weak, id] {
    if (auto sandbox = weak.lock()) sandbox->impl_->expire(id);
  }, opt.team_id);
}

// The call's async work would go on in the isolate (a chain of fetches, a
// loop over storage) beside its retry: the isolate is marked broken, so the
// owner replaces it, which ends that work. Calls still pending in it fail
// as unavailable (a job among them goes back to the queue uncounted).
void Sandbox::Impl::expire(std::uint64_t id) {
  auto it = calls.find(id);
  if (it == calls.end()) return;
  auto done = std::move(it->second.done);
  calls.erase(it);
  broken = true;
  done({Failure::WallLimit, std::nullopt,
        "did not settle within the time limit of " + std::to_string(opt.limits.wall.count()) + " ms"});
  fail_pending(Failure::Unavailable, "the app's isolate is replaced: another of its calls overran the time limit");
}

void Sandbox::Impl::fail_pending(Failure failure, const std::string& text) {
  // Taken out first: a `done` may start new work on this sandbox.
  auto pending = std::move(calls);
  calls.clear();
  for (auto& [id, call] : pending) {
    call.promise.Reset();
    call.done({failure, std::nullopt, text});
  }
}

void Sandbox::Impl::settle_calls() {
  v8::HandleScope scope(isolate);
  for (auto it = calls.begin(); it != calls.end();) {
    auto promise = it->second.promise.Get(isolate);
    if (promise->State() == v8::Promise::kPending) {
      ++it;
      continue;
    }
    auto done = std::move(it->second.done);
    it = calls.erase(it);
    if (promise->State() == v8::Promise::kFulfilled) {
      done(settled_value(promise->Result()));
    } else {
      done({Failure::Error, std::nullopt, with_allocator_note(js::describe(isolate, promise->Result()))});
    }
  }
}

void Sandbox::Impl::after_entry(bool terminated_async) {
  if (heap_exceeded || terminated_async) {
    broken = true;
    isolate->CancelTerminateExecution();
    fail_pending(heap_exceeded ? Failure::HeapLimit : Failure::CpuLimit,
                 heap_exceeded ? heap_limit_text() : cpu_limit_text());
    return;
  }
  settle_calls();
}

void Sandbox::Impl::enter(const std::function<void()>& body) {
  v8::TryCatch tc(isolate);
  bool fired;
  {
    TimeOnThread timed(time_on_thread);
    Watchdog::Guard guard(*opt.watchdog, isolate, opt.limits.cpu);
    body();
    isolate->PerformMicrotaskCheckpoint();
    fired = guard.fired();
  }
  after_entry(fired);
}

Sandbox::Sandbox(SandboxOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Sandbox::~Sandbox() = default;

std::shared_ptr<Sandbox> Sandbox::create(SandboxOptions options) {
  std::shared_ptr<Sandbox> sandbox(new Sandbox(std::move(options)));
  auto& impl = *sandbox->impl_;
  impl.self = sandbox;
  impl.create_isolate();
  v8::Isolate::Scope isolate_scope(impl.isolate);
  v8::HandleScope scope(impl.isolate);
  auto context = v8::Context::New(impl.isolate);
  // No eval or new Function: all code an app runs is in its bundle.
  context->AllowCodeGenerationFromStrings(false);
  impl.context.Reset(impl.isolate, context);
  v8::Context::Scope context_scope(impl.ctx());
  impl.install_prelude();
  impl.load_module();
  impl.load_step("building meta", [&impl] { return impl.make_meta(); });
  return sandbox;
}

const Exports& Sandbox::exports() const { return impl_->exports; }

bool Sandbox::broken() const { return impl_->broken; }

std::size_t Sandbox::pending_calls() const { return impl_->calls.size(); }

std::chrono::nanoseconds Sandbox::time_on_thread() const { return impl_->time_on_thread; }

std::size_t Sandbox::heap_used_bytes() const {
  v8::HeapStatistics stats;
  impl_->isolate->GetHeapStatistics(&stats);
  return stats.used_heap_size();
}

void Sandbox::call(const std::string& method, const std::vector<std::string>& args_json, CallDone done,
                   int capture_hops) {
  auto& impl = *impl_;
  if (impl.broken) {
    done({Failure::Unavailable, std::nullopt, "the app's isolate is being replaced"});
    return;
  }
  auto fn = impl.methods.find(method);
  if (fn == impl.methods.end()) {
    done({Failure::Error, std::nullopt, "the app does not export " + method});
    return;
  }
  v8::Isolate::Scope isolate_scope(impl.isolate);
  v8::HandleScope scope(impl.isolate);
  v8::Context::Scope context_scope(impl.ctx());
  std::vector<Local<v8::Value>> argv;
  for (const auto& json : args_json) {
    v8::TryCatch tc(impl.isolate);
    Local<v8::String> text;
    Local<v8::Value> value;
    if (!js::string(impl.isolate, json).ToLocal(&text) || !v8::JSON::Parse(impl.ctx(), text).ToLocal(&value)) {
      done({Failure::Error, std::nullopt, "invalid JSON argument for " + method});
      return;
    }
    argv.push_back(value);
  }
  argv.push_back(impl.meta.Get(impl.isolate));
  impl.invoke(fn->second.Get(impl.isolate), argv, std::move(done), capture_hops);
}

void Sandbox::run_job(const std::string& name, const std::optional<std::string>& payload_json, CallDone done) {
  auto& impl = *impl_;
  if (impl.broken) {
    done({Failure::Unavailable, std::nullopt, "the app's isolate is being replaced"});
    return;
  }
  if (std::find(impl.exports.jobs.begin(), impl.exports.jobs.end(), name) == impl.exports.jobs.end()) {
    done({Failure::Error, std::nullopt, "the app has no job \"" + name + "\""});
    return;
  }
  v8::Isolate::Scope isolate_scope(impl.isolate);
  v8::HandleScope scope(impl.isolate);
  v8::Context::Scope context_scope(impl.ctx());
  Local<v8::Value> payload = v8::Undefined(impl.isolate);
  Local<v8::String> payload_text;
  if (payload_json) {
    if (!js::string(impl.isolate, *payload_json).ToLocal(&payload_text)) {
      done({Failure::Error, std::nullopt, "the job payload is too large for a string"});
      return;
    }
    payload = payload_text;
  }
  std::vector<Local<v8::Value>> argv = {js::message(impl.isolate, name), payload, impl.meta.Get(impl.isolate)};
  impl.invoke(impl.run_job_fn.Get(impl.isolate), argv, std::move(done));
}

void Sandbox::process_event(const std::string& event_json, CallDone done, int capture_hops) {
  auto& impl = *impl_;
  if (impl.broken) {
    done({Failure::Unavailable, std::nullopt, "the app's isolate is being replaced"});
    return;
  }
  auto fn = impl.methods.find("processEvent");
  if (fn == impl.methods.end()) {
    done({Failure::Error, std::nullopt, "the app does not export processEvent"});
    return;
  }
  v8::Isolate::Scope isolate_scope(impl.isolate);
  v8::HandleScope scope(impl.isolate);
  v8::Context::Scope context_scope(impl.ctx());
  Local<v8::String> event;
  if (!js::string(impl.isolate, event_json).ToLocal(&event)) {
    done({Failure::Error, std::nullopt, "the event is too large for a string"});
    return;
  }
  std::vector<Local<v8::Value>> argv = {fn->second.Get(impl.isolate), event, impl.meta.Get(impl.isolate),
                                        impl.label.Get(impl.isolate)};
  // What the team is before the app sees the event (the scanner does not recurse: any depth is safe).
  auto before = json::scan_top_level(event_json, {std::numeric_limits<std::size_t>::max()});
  auto team_before = before ? std::move(before->team_id) : json::ScannedField{json::ScannedField::other, {}, 0};
  impl.invoke(impl.process_event_wrapper.Get(impl.isolate), argv,
              [&impl, team_before = std::move(team_before), done = std::move(done)](CallOutcome outcome) {
                done(impl.checked_event(std::move(outcome), team_before));
              },
              capture_hops);
}

}  // namespace ps::runtime
