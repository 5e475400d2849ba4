#include "tests/support/js_json.h"

#include <memory>
#include <mutex>

#include <v8.h>

#include "tests/support/v8_engine.h"

namespace ps::test {

namespace {

// Valid UTF-8 as Unicode defines it; V8 would replace what is not.
bool valid_utf8(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto b = static_cast<unsigned char>(text[i]);
    int n = b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
    if (n == 0 || i + n > text.size()) return false;
    unsigned cp = n == 1 ? b : b & (0x3F >> (n - 1));
    for (int k = 1; k < n; ++k) {
      auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    bool overlong = (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

struct IsolateDeleter {
  void operator()(v8::Isolate* isolate) const { isolate->Dispose(); }
};

}  // namespace

bool js_json_accepts(const std::string& text) {
  if (!valid_utf8(text)) return false;
  v8_engine();
  static std::mutex mutex;
  static std::unique_ptr<v8::ArrayBuffer::Allocator> allocator(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
  static std::unique_ptr<v8::Isolate, IsolateDeleter> isolate([] {
    v8::Isolate::CreateParams params;
    params.array_buffer_allocator = allocator.get();
    return v8::Isolate::New(params);
  }());
  std::lock_guard lock(mutex);
  v8::Isolate::Scope isolate_scope(isolate.get());
  v8::HandleScope scope(isolate.get());
  auto context = v8::Context::New(isolate.get());
  v8::Context::Scope context_scope(context);
  v8::TryCatch tc(isolate.get());
  v8::Local<v8::String> source;
  if (!v8::String::NewFromUtf8(isolate.get(), text.data(), v8::NewStringType::kNormal, static_cast<int>(text.size()))
           .ToLocal(&source)) {
    return false;
  }
  return !v8::JSON::Parse(context, source).IsEmpty();
}

}  // namespace ps::test
