#include "server/route_match.h"

namespace ps::server {

namespace {
// The next segment of `rest` (without its leading slash), consuming it.
std::string_view next_segment(std::string_view& rest) {
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  auto end = rest.find('/');
  auto segment = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  return segment;
}
}  // namespace

std::optional<PathParams> match_path(std::string_view pattern, std::string_view path) {
  PathParams params;
  if (pattern.find('{') == std::string_view::npos) {
    if (pattern != path) return std::nullopt;
    return params;
  }
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty()) return std::nullopt;
    if (pattern.front() != path.front()) return std::nullopt;  // both at a slash
    auto want = next_segment(pattern);
    auto have = next_segment(path);
    if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
      if (have.empty()) return std::nullopt;
      params.emplace(std::string(want.substr(1, want.size() - 2)), std::string(have));
    } else if (want != have) {
      return std::nullopt;
    }
  }
  return params;
}

}  // namespace ps::server
