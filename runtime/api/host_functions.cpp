#include "runtime/api/host_functions.h"

#include <memory>

#include "runtime/js_safe.h"

namespace ps::runtime::api {

bool install(v8::Local<v8::Context> context, v8::Local<v8::Object> host, std::span<const HostFunction> functions,
             const ApiLimits& limits) {
  auto* isolate = context->GetIsolate();
  for (const auto& f : functions) {
    v8::Local<v8::Function> fn;
    auto data = v8::External::New(isolate, const_cast<ApiLimits*>(&limits));
    if (!v8::Function::New(context, f.callback, data).ToLocal(&fn) || !js::define(context, host, f.name, fn)) return false;
  }
  return true;
}

const ApiLimits& limits_of(const v8::FunctionCallbackInfo<v8::Value>& info) {
  return *static_cast<const ApiLimits*>(info.Data().As<v8::External>()->Value());
}

bool bytes_of(v8::Local<v8::Value> value, std::string_view* out) {
  if (value.IsEmpty()) return false;
  if (value->IsArrayBufferView()) {
    auto view = value.As<v8::ArrayBufferView>();
    auto store = view->Buffer()->GetBackingStore();
    auto* base = static_cast<const char*>(store->Data());
    *out = base ? std::string_view(base + view->ByteOffset(), view->ByteLength()) : std::string_view();
    return true;
  }
  if (value->IsArrayBuffer()) {
    auto store = value.As<v8::ArrayBuffer>()->GetBackingStore();
    *out = store->Data() ? std::string_view(static_cast<const char*>(store->Data()), store->ByteLength())
                         : std::string_view();
    return true;
  }
  return false;
}

v8::MaybeLocal<v8::Uint8Array> to_uint8_array(const v8::FunctionCallbackInfo<v8::Value>& info, std::string bytes) {
  auto* isolate = info.GetIsolate();
  if (bytes.size() > limits_of(info).max_output_bytes) {
    isolate->ThrowException(v8::Exception::RangeError(js::message(
        isolate, "the result is larger than " + std::to_string(limits_of(info).max_output_bytes >> 20) +
                     " MiB, the memory limit of this app")));
    return {};
  }
  // The string's own buffer becomes the ArrayBuffer's memory.
  auto owned = std::make_unique<std::string>(std::move(bytes));
  auto size = owned->size();
  void* data = size ? owned->data() : nullptr;
  auto store = v8::ArrayBuffer::NewBackingStore(
      data, size, [](void*, std::size_t, void* holder) { delete static_cast<std::string*>(holder); }, owned.get());
  owned.release();
  auto buffer = v8::ArrayBuffer::New(isolate, std::move(store));
  return v8::Uint8Array::New(buffer, 0, size);
}

}  // namespace ps::runtime::api
