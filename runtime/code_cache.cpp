#include "runtime/code_cache.h"

#include <functional>

namespace ps::runtime {

std::string CodeCache::key(std::string_view origin, std::string_view text) {
  return std::string(origin) + "\n" + std::to_string(text.size()) + ":" +
         std::to_string(std::hash<std::string_view>{}(text));
}

std::shared_ptr<const std::string> CodeCache::find(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = code_.find(key);
  return it == code_.end() ? nullptr : it->second;
}

void CodeCache::store(const std::string& key, std::string code) {
  std::lock_guard lock(mutex_);
  code_.try_emplace(key, std::make_shared<const std::string>(std::move(code)));
}

std::size_t CodeCache::size() const {
  std::lock_guard lock(mutex_);
  return code_.size();
}

}  // namespace ps::runtime
