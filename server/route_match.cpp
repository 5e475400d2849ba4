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

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A segment with its %XX escapes decoded (a public job's name has spaces);
// nullopt for a broken escape.
std::optional<std::string> percent_decoded(std::string_view segment) {
  std::string out;
  for (std::size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out += segment[i];
      continue;
    }
    if (i + 2 >= segment.size()) return std::nullopt;
    int high = hex_digit(segment[i + 1]), low = hex_digit(segment[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
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
      auto value = percent_decoded(have);
      if (have.empty() || !value) return std::nullopt;
      params.emplace(std::string(want.substr(1, want.size() - 2)), std::move(*value));
    } else if (want != have) {
      return std::nullopt;
    }
  }
  return params;
}

}  // namespace ps::server
