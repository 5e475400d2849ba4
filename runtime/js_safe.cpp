#include "runtime/js_safe.h"

namespace ps::runtime::js {

std::optional<std::string> utf8(v8::Isolate* isolate, v8::Local<v8::Value> value) {
  if (value.IsEmpty() || !value->IsString()) return std::nullopt;
  // One pass straight into the result (events cross here on every call):
  // a UTF-16 unit never takes more than 3 bytes of UTF-8.
  auto string = value.As<v8::String>();
  std::string out(static_cast<std::size_t>(string->Length()) * 3, '\0');
  int written = string->WriteUtf8(isolate, out.data(), static_cast<int>(out.size()), nullptr,
                                  v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::optional<std::pair<std::string, std::size_t>> utf8_prefix(v8::Isolate* isolate, v8::Local<v8::Value> value,
                                                               std::size_t max_bytes) {
  if (value.IsEmpty() || !value->IsString()) return std::nullopt;
  auto string = value.As<v8::String>();
  auto full = static_cast<std::size_t>(string->Utf8Length(isolate));
  if (full <= max_bytes) return std::pair{*utf8(isolate, value), full};
  std::string out(max_bytes, '\0');
  int written = string->WriteUtf8(isolate, out.data(), static_cast<int>(max_bytes), nullptr,
                                  v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
  out.resize(static_cast<std::size_t>(written));
  return std::pair{std::move(out), full};
}

v8::MaybeLocal<v8::String> string(v8::Isolate* isolate, std::string_view text) {
  if (text.size() > static_cast<std::size_t>(v8::String::kMaxLength)) return {};
  return v8::String::NewFromUtf8(isolate, text.data(), v8::NewStringType::kNormal, static_cast<int>(text.size()));
}

v8::Local<v8::String> message(v8::Isolate* isolate, std::string_view text) {
  constexpr std::size_t kMaxMessage = 64 * 1024;
  std::string cut;
  if (text.size() > kMaxMessage) {
    cut = std::string(text.substr(0, kMaxMessage)) + "... (cut)";
    text = cut;
  }
  v8::Local<v8::String> out;
  if (string(isolate, text).ToLocal(&out)) return out;
  return v8::String::Empty(isolate);
}

v8::Local<v8::Object> bare_object(v8::Isolate* isolate) {
  return v8::Object::New(isolate, v8::Null(isolate), nullptr, nullptr, 0);
}

bool define(v8::Local<v8::Context> context, v8::Local<v8::Object> object, std::string_view key,
            v8::Local<v8::Value> value) {
  return object->CreateDataProperty(context, message(context->GetIsolate(), key), value).FromMaybe(false);
}

void throw_type_error(v8::Isolate* isolate, std::string_view text) {
  isolate->ThrowException(v8::Exception::TypeError(message(isolate, text)));
}

std::string describe(v8::Isolate* isolate, v8::Local<v8::Value> thrown) {
  if (thrown.IsEmpty()) return "unknown error";
  if (thrown->IsString()) return utf8(isolate, thrown).value_or("");
  // V8 formats the message of an uncaught exception from the value without
  // side effects: an error's own name and message data, never a getter or
  // toString of the app's.
  auto text = utf8(isolate, v8::Exception::CreateMessage(isolate, thrown)->Get()).value_or("");
  constexpr std::string_view kPrefix = "Uncaught ";
  if (text.rfind(kPrefix, 0) == 0) text.erase(0, kPrefix.size());
  return text.empty() ? "unknown error" : text;
}

}  // namespace ps::runtime::js
