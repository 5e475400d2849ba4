// structuredClone and the clock.
//   clone(value) -> a deep copy through V8's serializer (Map, Set, Date,
//   RegExp, typed arrays, cycles), or a DataCloneError-like TypeError
//   monotonicNow() -> milliseconds since an arbitrary start, for performance.now()

#include <chrono>

#include "runtime/api/host_functions.h"
#include "runtime/js_safe.h"

namespace ps::runtime::api {

namespace {

class Serializer : public v8::ValueSerializer::Delegate {
 public:
  explicit Serializer(v8::Isolate* isolate) : isolate_(isolate) {}
  void ThrowDataCloneError(v8::Local<v8::String> message) override {
    isolate_->ThrowException(v8::Exception::TypeError(message));
  }

 private:
  v8::Isolate* isolate_;
};

void clone(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto* isolate = info.GetIsolate();
  auto context = isolate->GetCurrentContext();
  Serializer delegate(isolate);
  v8::ValueSerializer serializer(isolate, &delegate);
  serializer.WriteHeader();
  // Getters of the value run here, inside the app's own call.
  if (serializer.WriteValue(context, info[0]).IsNothing()) return;
  auto [buffer, size] = serializer.Release();
  std::unique_ptr<uint8_t, void (*)(void*)> owned(buffer, free);
  if (size > limits_of(info).max_output_bytes) {
    isolate->ThrowException(v8::Exception::RangeError(js::message(isolate, "structuredClone: the value is too large")));
    return;
  }
  v8::ValueDeserializer deserializer(isolate, owned.get(), size);
  v8::Local<v8::Value> copy;
  if (deserializer.ReadHeader(context).IsNothing() || !deserializer.ReadValue(context).ToLocal(&copy)) return;
  info.GetReturnValue().Set(copy);
}

void monotonic_now(const v8::FunctionCallbackInfo<v8::Value>& info) {
  static const auto start = std::chrono::steady_clock::now();
  std::chrono::duration<double, std::milli> since = std::chrono::steady_clock::now() - start;
  info.GetReturnValue().Set(since.count());
}

constexpr HostFunction kFunctions[] = {
    {"clone", clone},
    {"monotonicNow", monotonic_now},
};

}  // namespace

std::span<const HostFunction> clone_functions() { return kFunctions; }

}  // namespace ps::runtime::api
