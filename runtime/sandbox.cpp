// One app's isolate: creating it with its limits, the prelude, loading the
// bundle's modules, and calls into the app under the CPU, wall-clock and heap
// limits. The host functions are in sandbox_host.cpp.

#include <algorithm>
#include <filesystem>

#include "runtime/executor.h"
#include "runtime/sandbox_impl.h"
#include "runtime/watchdog.h"

namespace ps::runtime {

extern const char* const kPreludeSource;

namespace {

constexpr const char* kHookNames[] = {"setupPlugin",    "teardownPlugin", "processEvent", "onEvent",
                                      "runEveryMinute", "runEveryHour",   "runEveryDay"};
constexpr const char* kScheduledTasks[] = {"runEveryMinute", "runEveryHour", "runEveryDay"};

// Resolves a relative import against the importing file, within the bundle.
std::optional<std::string> resolve_path(const std::string& referrer, const std::string& specifier,
                                        const std::map<std::string, std::string>& files) {
  if (specifier.rfind("./", 0) != 0 && specifier.rfind("../", 0) != 0) return std::nullopt;
  auto base = std::filesystem::path(referrer).parent_path();
  auto joined = (base / specifier).lexically_normal().generic_string();
  if (joined.rfind("../", 0) == 0) return std::nullopt;
  for (const auto& candidate : {joined, joined + ".js", joined + ".mjs", joined + "/index.js"}) {
    if (files.count(candidate)) return candidate;
  }
  return std::nullopt;
}

}  // namespace

std::string text_of(v8::Isolate* isolate, Local<v8::Value> value) {
  if (value->IsString()) {
    // One pass straight into the result (events cross here on every call):
    // a UTF-16 unit never takes more than 3 bytes of UTF-8.
    auto string = value.As<v8::String>();
    std::string out(static_cast<std::size_t>(string->Length()) * 3, '\0');
    int written = string->WriteUtf8(isolate, out.data(), static_cast<int>(out.size()), nullptr,
                                    v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
    out.resize(static_cast<std::size_t>(written));
    return out;
  }
  v8::String::Utf8Value utf8(isolate, value);
  return *utf8 ? std::string(*utf8, static_cast<std::size_t>(utf8.length())) : std::string();
}

Local<v8::String> js_string(v8::Isolate* isolate, const std::string& text) {
  return v8::String::NewFromUtf8(isolate, text.data(), v8::NewStringType::kNormal, static_cast<int>(text.size()))
      .ToLocalChecked();
}

std::string exception_text(v8::Isolate* isolate, Local<v8::Value> exception) {
  if (exception.IsEmpty()) return "unknown error";
  auto text = text_of(isolate, exception);
  return text.empty() ? "unknown error" : text;
}

bool Exports::has(const std::string& method) const {
  return std::find(methods.begin(), methods.end(), method) != methods.end();
}

Sandbox::Impl::~Impl() {
  if (!isolate) return;
  {
    v8::Isolate::Scope isolate_scope(isolate);
    auto pending = std::move(calls);
    calls.clear();
    for (auto& [id, call] : pending) {
      call.promise.Reset();
      call.done({Failure::Unavailable, std::nullopt, "the app instance stopped before the call settled"});
    }
    ops.clear();
    methods.clear();
    modules.clear();
    meta.Reset();
    process_event_wrapper.Reset();
    label.Reset();
    internals.Reset();
    context.Reset();
  }
  isolate->Dispose();
}

std::size_t Sandbox::Impl::near_heap_limit(void* data, std::size_t current, std::size_t) {
  auto* impl = static_cast<Impl*>(data);
  impl->heap_exceeded = true;
  impl->isolate->TerminateExecution();
  // Room to unwind the running script; the isolate is replaced afterwards.
  return current + std::max<std::size_t>(current / 2, 16u << 20);
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

template <auto Callback>
void Sandbox::Impl::add_host_function(Local<v8::Object> host, const char* name) {
  auto fn = v8::Function::New(ctx(), Callback, v8::External::New(isolate, this)).ToLocalChecked();
  host->Set(ctx(), js_string(isolate, name), fn).Check();
}

void Sandbox::Impl::install_prelude() {
  v8::TryCatch tc(isolate);
  v8::ScriptOrigin origin(isolate, js_string(isolate, "plugin-server:prelude.js"));
  auto script = v8::Script::Compile(ctx(), js_string(isolate, kPreludeSource), &origin).ToLocalChecked();
  auto factory = script->Run(ctx()).ToLocalChecked().As<v8::Function>();
  auto host = v8::Object::New(isolate);
  add_host_function<&Impl::host_log>(host, "log");
  add_host_function<&Impl::host_fetch>(host, "fetch");
  add_host_function<&Impl::host_storage_get>(host, "storageGet");
  add_host_function<&Impl::host_storage_set>(host, "storageSet");
  add_host_function<&Impl::host_storage_del>(host, "storageDel");
  add_host_function<&Impl::host_enqueue_job>(host, "enqueueJob");
  Local<v8::Value> args[] = {host};
  auto result = factory->Call(ctx(), v8::Undefined(isolate), 1, args);
  if (result.IsEmpty()) throw std::logic_error("prelude failed: " + exception_text(isolate, tc.Exception()));
  auto prelude = result.ToLocalChecked().As<v8::Object>();
  internals.Reset(isolate, prelude);
  process_event_wrapper.Reset(
      isolate, prelude->Get(ctx(), js_string(isolate, "processEvent")).ToLocalChecked().As<v8::Function>());
  label.Reset(isolate, js_string(isolate, opt.label));
}

std::string Sandbox::Impl::where(Local<v8::Message> message) {
  if (message.IsEmpty()) return "";
  auto file = text_of(isolate, message->GetScriptResourceName());
  int line = message->GetLineNumber(ctx()).FromMaybe(0);
  int column = message->GetStartColumn(ctx()).FromMaybe(0) + 1;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
}

Local<v8::Module> Sandbox::Impl::compile_module(const std::string& path) {
  for (auto& [module, known] : modules) {
    if (known == path) return module.Get(isolate);
  }
  v8::TryCatch tc(isolate);
  v8::ScriptOrigin origin(isolate, js_string(isolate, opt.bundle->source + "/" + path), 0, 0, false, -1,
                          Local<v8::Value>(), false, false, true);
  v8::ScriptCompiler::Source source(js_string(isolate, opt.bundle->files.at(path)), origin);
  Local<v8::Module> module;
  if (!v8::ScriptCompiler::CompileModule(isolate, &source).ToLocal(&module)) {
    throw BundleError(where(tc.Message()) + exception_text(isolate, tc.Exception()));
  }
  modules.emplace_back(v8::Global<v8::Module>(isolate, module), path);
  return module;
}

v8::MaybeLocal<v8::Module> Sandbox::Impl::resolve_import(Local<v8::Context> context, Local<v8::String> specifier,
                                                         Local<v8::FixedArray>, Local<v8::Module> referrer) {
  auto* impl = static_cast<Impl*>(context->GetIsolate()->GetData(0));
  auto* isolate = impl->isolate;
  std::string referrer_path;
  for (auto& [module, path] : impl->modules) {
    if (module == referrer) referrer_path = path;
  }
  auto spec = text_of(isolate, specifier);
  auto resolved = resolve_path(referrer_path, spec, impl->opt.bundle->files);
  if (!resolved) {
    auto message = impl->opt.bundle->source + "/" + referrer_path + ": cannot import \"" + spec +
                   "\": only relative imports of files in the bundle are allowed";
    isolate->ThrowException(v8::Exception::Error(js_string(isolate, message)));
    return {};
  }
  try {
    return impl->compile_module(*resolved);
  } catch (const BundleError& e) {
    isolate->ThrowException(v8::Exception::SyntaxError(js_string(isolate, e.what())));
    return {};
  }
}

void Sandbox::Impl::load_module() {
  auto module = compile_module(opt.bundle->manifest.main);
  v8::TryCatch tc(isolate);
  if (module->InstantiateModule(ctx(), resolve_import).IsNothing()) {
    throw BundleError(opt.bundle->source + ": " + exception_text(isolate, tc.Exception()));
  }
  Local<v8::Value> evaluation;
  {
    Watchdog::Guard guard(*opt.watchdog, isolate, opt.limits.cpu);
    if (module->Evaluate(ctx()).ToLocal(&evaluation)) isolate->PerformMicrotaskCheckpoint();
    if (guard.fired() || heap_exceeded) {
      isolate->CancelTerminateExecution();
      throw AppError(opt.bundle->source + ": loading the module broke a limit: " +
                     (heap_exceeded ? heap_limit_text() : cpu_limit_text()));
    }
  }
  if (evaluation.IsEmpty()) {
    throw AppError(opt.bundle->source + ": the module threw while loading: " +
                   exception_text(isolate, tc.Exception()));
  }
  auto promise = evaluation.As<v8::Promise>();
  if (promise->State() == v8::Promise::kRejected) {
    throw AppError(opt.bundle->source + ": the module threw while loading: " +
                   exception_text(isolate, promise->Result()));
  }
  if (promise->State() == v8::Promise::kPending) {
    throw AppError(opt.bundle->source + ": top-level await of host operations is not supported");
  }
  read_exports(module->GetModuleNamespace().As<v8::Object>());
}

void Sandbox::Impl::read_exports(Local<v8::Object> ns) {
  for (const char* name : kHookNames) {
    Local<v8::Value> value;
    if (ns->Get(ctx(), js_string(isolate, name)).ToLocal(&value) && value->IsFunction()) {
      exports.methods.push_back(name);
      methods[name].Reset(isolate, value.As<v8::Function>());
    }
  }
  for (const char* task : kScheduledTasks) {
    if (exports.has(task)) exports.scheduled_tasks.push_back(task);
  }
  Local<v8::Value> jobs;
  if (ns->Get(ctx(), js_string(isolate, "jobs")).ToLocal(&jobs) && jobs->IsObject()) {
    exported_jobs.Reset(isolate, jobs);
    auto names = jobs.As<v8::Object>()->GetOwnPropertyNames(ctx()).ToLocalChecked();
    for (uint32_t i = 0; i < names->Length(); ++i) {
      auto key = names->Get(ctx(), i).ToLocalChecked();
      auto value = jobs.As<v8::Object>()->Get(ctx(), key).ToLocalChecked();
      if (value->IsFunction()) exports.jobs.push_back(text_of(isolate, key));
    }
  }
}

void Sandbox::Impl::make_meta() {
  auto make = internals.Get(isolate)->Get(ctx(), js_string(isolate, "makeMeta")).ToLocalChecked().As<v8::Function>();
  Local<v8::Value> jobs = exported_jobs.IsEmpty() ? v8::Undefined(isolate).As<v8::Value>() : exported_jobs.Get(isolate);
  Local<v8::Value> args[] = {js_string(isolate, opt.config_json), js_string(isolate, opt.attachments_json), jobs};
  v8::TryCatch tc(isolate);
  Local<v8::Value> result;
  if (!make->Call(ctx(), v8::Undefined(isolate), 3, args).ToLocal(&result)) {
    throw AppError(opt.bundle->source + ": cannot build meta: " + exception_text(isolate, tc.Exception()));
  }
  meta.Reset(isolate, result.As<v8::Object>());
  exported_jobs.Reset();
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
  auto text = exception_text(isolate, tc.Exception());
  if (allocator_state.refused.exchange(false)) {
    text += " (exceeded the ArrayBuffer memory limit of " + std::to_string(opt.limits.heap_bytes >> 20) + " MiB)";
  }
  return {Failure::Error, std::nullopt, text};
}

void Sandbox::Impl::invoke(Local<v8::Function> fn, std::vector<Local<v8::Value>>& argv, CallDone done) {
  v8::TryCatch tc(isolate);
  Local<v8::Value> result;
  bool fired = false;
  {
    Watchdog::Guard guard(*opt.watchdog, isolate, opt.limits.cpu);
    if (fn->Call(ctx(), v8::Undefined(isolate), static_cast<int>(argv.size()), argv.data()).ToLocal(&result)) {
      isolate->PerformMicrotaskCheckpoint();
    }
    fired = guard.fired();
  }
  if (result.IsEmpty()) {
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
  if (value->IsString()) return {Failure::None, text_of(isolate, value), ""};
  return {};
}

void Sandbox::Impl::park(Local<v8::Promise> promise, CallDone done) {
  auto id = next_call++;
  calls[id] = PendingCall{v8::Global<v8::Promise>(isolate, promise), std::move(done)};
  std::weak_ptr<Sandbox> weak = self;
  opt.executor->post_after(opt.limits.wall, opt.thread, [weak, id] {
    if (auto sandbox = weak.lock()) sandbox->impl_->expire(id);
  });
}

void Sandbox::Impl::expire(std::uint64_t id) {
  auto it = calls.find(id);
  if (it == calls.end()) return;
  auto done = std::move(it->second.done);
  calls.erase(it);
  done({Failure::WallLimit, std::nullopt,
        "did not settle within the time limit of " + std::to_string(opt.limits.wall.count()) + " ms"});
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
      auto text = exception_text(isolate, promise->Result());
      if (allocator_state.refused.exchange(false)) {
        text += " (exceeded the ArrayBuffer memory limit of " + std::to_string(opt.limits.heap_bytes >> 20) + " MiB)";
      }
      done({Failure::Error, std::nullopt, text});
    }
  }
}

void Sandbox::Impl::after_entry(bool terminated_async) {
  if (heap_exceeded || terminated_async) {
    broken = true;
    isolate->CancelTerminateExecution();
    auto failure = heap_exceeded ? Failure::HeapLimit : Failure::CpuLimit;
    auto text = heap_exceeded ? heap_limit_text() : cpu_limit_text();
    auto pending = std::move(calls);
    calls.clear();
    for (auto& [id, call] : pending) call.done({failure, std::nullopt, text});
    return;
  }
  settle_calls();
}

void Sandbox::Impl::run_microtasks() {
  bool fired;
  {
    Watchdog::Guard guard(*opt.watchdog, isolate, opt.limits.cpu);
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
  impl.context.Reset(impl.isolate, v8::Context::New(impl.isolate));
  v8::Context::Scope context_scope(impl.ctx());
  impl.install_prelude();
  impl.load_module();
  impl.make_meta();
  return sandbox;
}

const Exports& Sandbox::exports() const { return impl_->exports; }

bool Sandbox::broken() const { return impl_->broken; }

std::size_t Sandbox::pending_calls() const { return impl_->calls.size(); }

std::size_t Sandbox::heap_used_bytes() const {
  v8::HeapStatistics stats;
  impl_->isolate->GetHeapStatistics(&stats);
  return stats.used_heap_size();
}

void Sandbox::call(const std::string& method, const std::vector<std::string>& args_json, CallDone done) {
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
    Local<v8::Value> value;
    if (!v8::JSON::Parse(impl.ctx(), js_string(impl.isolate, json)).ToLocal(&value)) {
      done({Failure::Error, std::nullopt, "invalid JSON argument for " + method});
      return;
    }
    argv.push_back(value);
  }
  argv.push_back(impl.meta.Get(impl.isolate));
  impl.invoke(fn->second.Get(impl.isolate), argv, std::move(done));
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
  auto runner = impl.internals.Get(impl.isolate)
                    ->Get(impl.ctx(), js_string(impl.isolate, "runJob"))
                    .ToLocalChecked()
                    .As<v8::Function>();
  std::vector<Local<v8::Value>> argv = {
      js_string(impl.isolate, name),
      payload_json ? js_string(impl.isolate, *payload_json).As<v8::Value>() : v8::Undefined(impl.isolate).As<v8::Value>(),
      impl.meta.Get(impl.isolate)};
  impl.invoke(runner, argv, std::move(done));
}

void Sandbox::process_event(const std::string& event_json, CallDone done) {
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
  std::vector<Local<v8::Value>> argv = {fn->second.Get(impl.isolate), js_string(impl.isolate, event_json),
                                        impl.meta.Get(impl.isolate), impl.label.Get(impl.isolate)};
  impl.invoke(impl.process_event_wrapper.Get(impl.isolate), argv, std::move(done));
}

}  // namespace ps::runtime
