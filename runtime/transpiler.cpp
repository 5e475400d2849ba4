#include "runtime/transpiler.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include <v8.h>

#include "runtime/js_safe.h"
#include "runtime/manifest.h"
#include "runtime/watchdog.h"

namespace ps::runtime {

extern const char* const kTranspilerSource;

namespace {
// Sucrase's own memory, with room for a large file's tokens.
constexpr std::size_t kHeapBytes = 512u << 20;
}  // namespace

struct Transpiler::Impl {
  Watchdog& watchdog;
  std::chrono::milliseconds limit;
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator{v8::ArrayBuffer::Allocator::NewDefaultAllocator()};
  v8::Isolate* isolate = nullptr;
  v8::Global<v8::Context> context;
  v8::Global<v8::Function> transpile;
  bool heap_exceeded = false;
  std::mutex mutex;

  static std::size_t near_heap_limit(void* data, std::size_t current, std::size_t) {
    auto* impl = static_cast<Impl*>(data);
    impl->heap_exceeded = true;
    impl->isolate->TerminateExecution();
    return current + (256u << 20);  // room to unwind
  }

  Impl(Watchdog& dog, std::chrono::milliseconds cpu) : watchdog(dog), limit(cpu) {
    v8::Isolate::CreateParams params;
    params.array_buffer_allocator = allocator.get();
    params.constraints.ConfigureDefaultsFromHeapSize(0, kHeapBytes);
    isolate = v8::Isolate::New(params);
    isolate->AddNearHeapLimitCallback(near_heap_limit, this);
    v8::Locker locker(isolate);
    v8::Isolate::Scope isolate_scope(isolate);
    v8::HandleScope handles(isolate);
    auto ctx = v8::Context::New(isolate);
    context.Reset(isolate, ctx);
    v8::Context::Scope context_scope(ctx);
    v8::TryCatch tc(isolate);
    v8::ScriptOrigin origin(isolate, js::message(isolate, "plugin-server:transpiler.js"));
    v8::Local<v8::String> program;
    v8::Local<v8::Script> script;
    v8::Local<v8::Value> fn;
    if (!js::string(isolate, kTranspilerSource).ToLocal(&program) ||
        !v8::Script::Compile(ctx, program, &origin).ToLocal(&script) ||
        script->Run(ctx).IsEmpty() ||
        !ctx->Global()->Get(ctx, js::message(isolate, "transpile")).ToLocal(&fn) || !fn->IsFunction()) {
      auto message = tc.Message();
      auto at = message.IsEmpty() ? std::string()
                                  : std::to_string(message->GetLineNumber(ctx).FromMaybe(0)) + ":" +
                                        std::to_string(message->GetStartColumn(ctx).FromMaybe(0) + 1) + ": ";
      throw std::logic_error("the transpiler does not load: " + at + js::describe(isolate, tc.Exception()));
    }
    transpile.Reset(isolate, fn.As<v8::Function>());
  }

  ~Impl() {
    {
      v8::Locker locker(isolate);
      v8::Isolate::Scope isolate_scope(isolate);
      transpile.Reset();
      context.Reset();
    }
    isolate->Dispose();
  }

  // A property of the transpiler's own answer (sucrase's, not app code).
  v8::Local<v8::Value> field(v8::Local<v8::Context> ctx, v8::Local<v8::Object> answer, const char* name) {
    v8::Local<v8::Value> value;
    if (!answer->Get(ctx, js::message(isolate, name)).ToLocal(&value)) return v8::Undefined(isolate);
    return value;
  }

  static long whole(v8::Local<v8::Value> value) {
    return value->IsNumber() ? std::max(0L, static_cast<long>(value.As<v8::Number>()->Value())) : 0;
  }

  std::string run(const std::string& where, const std::string& path, const std::string& source) {
    v8::Locker locker(isolate);
    v8::Isolate::Scope isolate_scope(isolate);
    v8::HandleScope handles(isolate);
    auto ctx = context.Get(isolate);
    v8::Context::Scope context_scope(ctx);
    const std::string file = where + "/" + path;
    v8::Local<v8::String> text;
    if (!js::string(isolate, source).ToLocal(&text)) throw BundleError(file + ": the file is too large");
    v8::Local<v8::Value> args[] = {text, js::message(isolate, path)};
    v8::TryCatch tc(isolate);
    v8::Local<v8::Value> result;
    bool fired;
    {
      Watchdog::Guard guard(watchdog, isolate, limit);
      // An empty result is looked at below, with the limits.
      if (!transpile.Get(isolate)->Call(ctx, v8::Undefined(isolate), 2, args).ToLocal(&result)) result.Clear();
      fired = guard.fired();
    }
    if (fired || heap_exceeded) {
      isolate->CancelTerminateExecution();
      bool heap = heap_exceeded;
      heap_exceeded = false;
      isolate->LowMemoryNotification();
      throw BundleError(file + ": too " + (heap ? "large" : "slow") + " to transpile (over " +
                        (heap ? std::to_string(kHeapBytes >> 20) + " MiB" : std::to_string(limit.count()) + " ms") + ")");
    }
    if (result.IsEmpty() || !result->IsObject()) {
      throw std::logic_error("the transpiler failed on " + file + ": " + js::describe(isolate, tc.Exception()));
    }
    auto answer = result.As<v8::Object>();
    if (auto code = js::utf8(isolate, field(ctx, answer, "code"))) return std::move(*code);
    throw BundleError(file + ":" + std::to_string(whole(field(ctx, answer, "line"))) + ":" +
                      std::to_string(whole(field(ctx, answer, "column"))) + ": " +
                      js::utf8(isolate, field(ctx, answer, "message")).value_or("SyntaxError"));
  }
};

Transpiler::Transpiler(Watchdog& watchdog, std::chrono::milliseconds limit)
    : impl_(std::make_unique<Impl>(watchdog, limit)) {}

Transpiler::~Transpiler() = default;

std::string Transpiler::transpile(const std::string& where, const std::string& path, const std::string& source) {
  std::lock_guard lock(impl_->mutex);
  return impl_->run(where, path, source);
}

}  // namespace ps::runtime
