#pragma once
// The native half of the web and Node APIs apps use (encoding, crypto, zlib,
// structuredClone, the clock): plain functions that the prelude's JS (in
// runtime/js/prelude) wraps into the APIs apps see. Each file of this folder
// declares its JS face in one table. Every function follows the rule of
// host code (runtime/js_safe.h): arguments are read as what they are, never
// converted; a wrong one is a TypeError. Internal to runtime/ (V8 inside).

#include <cstddef>
#include <span>
#include <string>

#include <v8.h>

namespace ps::runtime::api {

struct HostFunction {
  const char* name;
  v8::FunctionCallback callback;
};

// What the functions may hand back, per call: no result (an inflated bomb,
// a hash of a huge input) may be larger than the isolate could hold.
struct ApiLimits {
  std::size_t max_output_bytes = 64u << 20;
};

std::span<const HostFunction> encoding_functions();
std::span<const HostFunction> crypto_functions();
std::span<const HostFunction> zlib_functions();
std::span<const HostFunction> clone_functions();

// Adds each function to `host`; `limits` must outlive the context.
bool install(v8::Local<v8::Context> context, v8::Local<v8::Object> host, std::span<const HostFunction> functions,
             const ApiLimits& limits);

// --- for the files of this folder ---------------------------------------

const ApiLimits& limits_of(const v8::FunctionCallbackInfo<v8::Value>& info);

// The bytes of an ArrayBuffer or a view of one (a Buffer, a Uint8Array, a
// DataView); false when `value` is none of these.
bool bytes_of(v8::Local<v8::Value> value, std::string_view* out);

// A Uint8Array holding `bytes` (moved, not copied); empty, with a RangeError
// thrown, when it is over the limit.
v8::MaybeLocal<v8::Uint8Array> to_uint8_array(const v8::FunctionCallbackInfo<v8::Value>& info, std::string bytes);

}  // namespace ps::runtime::api
