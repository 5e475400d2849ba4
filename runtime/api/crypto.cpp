// The crypto module's and Web Crypto's primitives, on OpenSSL.
//   digest(algorithm, bytes) -> Uint8Array
//   hmac(algorithm, key bytes, bytes) -> Uint8Array
//   randomBytes(count) -> Uint8Array
// Algorithms are OpenSSL's names as Node accepts them (md5, sha1, sha256,
// sha512, ...; "SHA-256" as Web Crypto spells it is mapped in JS).

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "runtime/api/host_functions.h"
#include "runtime/js_safe.h"

namespace ps::runtime::api {

namespace {

const EVP_MD* algorithm_arg(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto name = js::utf8(info.GetIsolate(), info[0]);
  const EVP_MD* md = name ? EVP_get_digestbyname(name->c_str()) : nullptr;
  // Node's words, which apps may test for.
  if (!md) js::throw_type_error(info.GetIsolate(), "Digest method not supported");
  return md;
}

void set_bytes(const v8::FunctionCallbackInfo<v8::Value>& info, std::string bytes) {
  v8::Local<v8::Uint8Array> out;
  if (to_uint8_array(info, std::move(bytes)).ToLocal(&out)) info.GetReturnValue().Set(out);
}

void digest(const v8::FunctionCallbackInfo<v8::Value>& info) {
  const EVP_MD* md = algorithm_arg(info);
  if (!md) return;
  std::string_view data;
  if (!bytes_of(info[1], &data)) return js::throw_type_error(info.GetIsolate(), "digest: expected bytes");
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &size, md, nullptr) != 1) {
    return js::throw_type_error(info.GetIsolate(), "digest: OpenSSL refused the input");
  }
  out.resize(size);
  set_bytes(info, std::move(out));
}

void hmac(const v8::FunctionCallbackInfo<v8::Value>& info) {
  const EVP_MD* md = algorithm_arg(info);
  if (!md) return;
  std::string_view key, data;
  if (!bytes_of(info[1], &key) || !bytes_of(info[2], &data)) {
    return js::throw_type_error(info.GetIsolate(), "hmac: expected a key and data as bytes");
  }
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int size = 0;
  // OpenSSL wants a non-null key pointer even for an empty key.
  static const unsigned char kEmpty = 0;
  const void* key_data = key.empty() ? static_cast<const void*>(&kEmpty) : static_cast<const void*>(key.data());
  if (!HMAC(md, key_data, static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
            reinterpret_cast<unsigned char*>(out.data()), &size)) {
    return js::throw_type_error(info.GetIsolate(), "hmac: OpenSSL refused the input");
  }
  out.resize(size);
  set_bytes(info, std::move(out));
}

void random_bytes(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto* isolate = info.GetIsolate();
  if (!info[0]->IsNumber()) return js::throw_type_error(isolate, "randomBytes: the size must be a number");
  double count = info[0].As<v8::Number>()->Value();
  if (!(count >= 0) || count > static_cast<double>(limits_of(info).max_output_bytes)) {
    isolate->ThrowException(v8::Exception::RangeError(js::message(isolate, "randomBytes: the size is out of range")));
    return;
  }
  std::string out(static_cast<std::size_t>(count), '\0');
  if (!out.empty() && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) != 1) {
    return js::throw_type_error(isolate, "randomBytes: no randomness available");
  }
  set_bytes(info, std::move(out));
}

constexpr HostFunction kFunctions[] = {
    {"digest", digest},
    {"hmac", hmac},
    {"randomBytes", random_bytes},
};

}  // namespace

std::span<const HostFunction> crypto_functions() { return kFunctions; }

}  // namespace ps::runtime::api
