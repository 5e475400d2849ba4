// The zlib module's one-shot transforms, on zlib.
//   zlib(mode, bytes, level) -> Uint8Array
// mode: "deflate", "inflate" (zlib format), "gzip", "gunzip", "deflateRaw",
// "inflateRaw", "unzip" (gzip or zlib, detected). Output past the app's
// memory limit is a RangeError, so a decompression bomb stops there.

#include <zlib.h>

#include <string_view>

#include "runtime/api/host_functions.h"
#include "runtime/js_safe.h"

namespace ps::runtime::api {

namespace {

struct Mode {
  std::string_view name;
  bool compress;
  int window_bits;  // zlib's: 15 zlib, 15+16 gzip, -15 raw, 15+32 detect
};

constexpr Mode kModes[] = {
    {"deflate", true, 15},   {"inflate", false, 15},     {"gzip", true, 15 + 16}, {"gunzip", false, 15 + 16},
    {"deflateRaw", true, -15}, {"inflateRaw", false, -15}, {"unzip", false, 15 + 32},
};

// Runs the whole input through zlib; nullopt-like via `error` on failure.
bool transform(const Mode& mode, std::string_view input, int level, std::size_t max_output, std::string* out,
               std::string* error) {
  z_stream stream{};
  int ok = mode.compress ? deflateInit2(&stream, level, Z_DEFLATED, mode.window_bits, 8, Z_DEFAULT_STRATEGY)
                         : inflateInit2(&stream, mode.window_bits);
  if (ok != Z_OK) {
    *error = "zlib: cannot start";
    return false;
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream.avail_in = static_cast<uInt>(input.size());
  char chunk[64 * 1024];
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof chunk;
    status = mode.compress ? deflate(&stream, Z_FINISH) : inflate(&stream, Z_FINISH);
    out->append(chunk, sizeof chunk - stream.avail_out);
    if (out->size() > max_output) {
      *error = "zlib: the result is larger than " + std::to_string(max_output >> 20) + " MiB, the memory limit of this app";
      break;
    }
    // Inflate answers Z_BUF_ERROR when it needs room (we give more) or input (it is truncated).
    if (status == Z_BUF_ERROR && stream.avail_out == 0) status = Z_OK;
    // Concatenated gzip members are one stream, as Node reads them.
    if (status == Z_STREAM_END && !mode.compress && mode.window_bits > 15 && stream.avail_in > 0 &&
        inflateReset(&stream) == Z_OK) {
      status = Z_OK;
    }
  }
  if (mode.compress) deflateEnd(&stream);
  else inflateEnd(&stream);
  if (!error->empty()) return false;
  if (status != Z_STREAM_END) {
    *error = status == Z_BUF_ERROR ? "unexpected end of file" : status == Z_DATA_ERROR ? "incorrect header check or corrupt data" : "zlib error";
    return false;
  }
  return true;
}

void zlib_transform(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto* isolate = info.GetIsolate();
  auto name = js::utf8(isolate, info[0]);
  const Mode* mode = nullptr;
  for (const auto& m : kModes) {
    if (name && m.name == *name) mode = &m;
  }
  if (!mode) return js::throw_type_error(isolate, "zlib: unknown mode");
  std::string_view input;
  if (!bytes_of(info[1], &input)) return js::throw_type_error(isolate, "zlib: expected bytes");
  if (input.size() > UINT32_MAX) return js::throw_type_error(isolate, "zlib: the input is too large");
  int level = Z_DEFAULT_COMPRESSION;
  if (info[2]->IsNumber()) {
    double l = info[2].As<v8::Number>()->Value();
    if (l >= -1 && l <= 9) level = static_cast<int>(l);
  }
  std::string out, error;
  if (!transform(*mode, input, level, limits_of(info).max_output_bytes, &out, &error)) {
    isolate->ThrowException(v8::Exception::Error(js::message(isolate, error)));
    return;
  }
  v8::Local<v8::Uint8Array> result;
  if (to_uint8_array(info, std::move(out)).ToLocal(&result)) info.GetReturnValue().Set(result);
}

constexpr HostFunction kFunctions[] = {
    {"zlib", zlib_transform},
};

}  // namespace

std::span<const HostFunction> zlib_functions() { return kFunctions; }

}  // namespace ps::runtime::api
