#pragma once
// The sandbox's compiles through the process's CodeCache. Internal to
// runtime/ (it brings in V8).

#include <memory>
#include <string>
#include <string_view>

#include <v8.h>

#include "runtime/code_cache.h"
#include "runtime/js_safe.h"

namespace ps::runtime {

// One compile through the process's code cache: the Source to compile,
// with the code an earlier isolate made when there is some, and keeping
// fresh code once the script ran (so what it compiled lazily is in it).
class CachedCompile {
 public:
  CachedCompile(CodeCache* cache, v8::Isolate* isolate, const std::string& name, std::string_view code,
                v8::Local<v8::String> text)
      : cache_(cache),
        key_(cache ? CodeCache::key(name, code) : std::string()),
        cached_(cache ? cache->find(key_) : nullptr),
        source_(text, v8::ScriptOrigin(isolate, js::message(isolate, name)),
                cached_ ? new v8::ScriptCompiler::CachedData(reinterpret_cast<const uint8_t*>(cached_->data()),
                                                            static_cast<int>(cached_->size()))
                        : nullptr) {}

  v8::ScriptCompiler::Source* source() { return &source_; }
  v8::ScriptCompiler::CompileOptions options() const {
    return cached_ ? v8::ScriptCompiler::kConsumeCodeCache : v8::ScriptCompiler::kNoCompileOptions;
  }
  // `made` is V8's code for what was compiled (owned here from now on).
  void keep(v8::ScriptCompiler::CachedData* made) {
    std::unique_ptr<v8::ScriptCompiler::CachedData> owned(made);
    bool had = cached_ && !source_.GetCachedData()->rejected;
    if (!cache_ || had || !owned) return;
    cache_->store(key_, std::string(reinterpret_cast<const char*>(owned->data), static_cast<std::size_t>(owned->length)));
  }

 private:
  CodeCache* cache_;
  std::string key_;
  std::shared_ptr<const std::string> cached_;  // outlives source_, which points into it
  v8::ScriptCompiler::Source source_;
};

}  // namespace ps::runtime
