#include "server/admin_params.h"

#include <charconv>

namespace ps::server {

std::optional<long long> id_of(const std::string& text) {
  long long id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id < 0) return std::nullopt;
  return id;
}

std::optional<std::string> query_value(const std::string& query, const std::string& name) {
  std::size_t at = 0;
  while (at <= query.size()) {
    auto end = query.find('&', at);
    auto pair = query.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (pair.rfind(name + "=", 0) == 0) return pair.substr(name.size() + 1);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return std::nullopt;
}

}  // namespace ps::server
