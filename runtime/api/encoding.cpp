// TextEncoder and TextDecoder's UTF-8, natively (V8 has the fast paths).
//   utf8Encode(string) -> Uint8Array
//   utf8Decode(bytes, fatal) -> string (malformed input: U+FFFD, or a
//   TypeError when fatal)

#include "json/utf8.h"
#include "runtime/api/host_functions.h"
#include "runtime/js_safe.h"

namespace ps::runtime::api {

namespace {

void utf8_encode(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto* isolate = info.GetIsolate();
  auto text = js::utf8(isolate, info[0]);
  if (!text) return js::throw_type_error(isolate, "utf8Encode: expected a string");
  v8::Local<v8::Uint8Array> out;
  if (to_uint8_array(info, std::move(*text)).ToLocal(&out)) info.GetReturnValue().Set(out);
}

bool well_formed(std::string_view bytes) {
  for (std::size_t at = 0; at < bytes.size();) {
    auto length = json::utf8_length(bytes, at);
    if (length == 0) return false;
    at += length;
  }
  return true;
}

void utf8_decode(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto* isolate = info.GetIsolate();
  std::string_view bytes;
  if (!bytes_of(info[0], &bytes)) return js::throw_type_error(isolate, "utf8Decode: expected bytes");
  if (info[1]->IsTrue() && !well_formed(bytes)) {
    return js::throw_type_error(isolate, "The encoded data was not valid for encoding utf-8");
  }
  v8::Local<v8::String> text;
  if (!js::string(isolate, bytes).ToLocal(&text)) {
    isolate->ThrowException(v8::Exception::RangeError(js::message(isolate, "utf8Decode: too long for a string")));
    return;
  }
  info.GetReturnValue().Set(text);
}

constexpr HostFunction kFunctions[] = {
    {"utf8Encode", utf8_encode},
    {"utf8Decode", utf8_decode},
};

}  // namespace

std::span<const HostFunction> encoding_functions() { return kFunctions; }

}  // namespace ps::runtime::api
