#pragma once
// V8's compiled code for the scripts every isolate runs (the prelude, each
// bundle's files), kept once per process: the first isolate compiles and
// leaves its code here, the others start from it instead of compiling the
// same text again. Keys name the text (its origin and a hash of it), so a
// changed file never meets old code; V8 itself rejects code made by another
// V8 build or with other flags. Thread-safe. V8 stays out of this header.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ps::runtime {

class CodeCache {
 public:
  // The key of `text` compiled as `origin`.
  static std::string key(std::string_view origin, std::string_view text);

  // The code stored under `key`, or null.
  std::shared_ptr<const std::string> find(const std::string& key) const;
  // Keeps the first code stored under `key`.
  void store(const std::string& key, std::string code);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const std::string>> code_;
};

}  // namespace ps::runtime
