#include "config/redis_url.h"

#include "config/url_redaction.h"

#include <charconv>
#include <string_view>

namespace ps::config {

namespace {

constexpr std::string_view kTcp = "redis://";
constexpr std::string_view kUnix = "unix://";

// Percent-decoding for the parts of a URL a password may hide in.
std::optional<std::string> decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int value = 0;
    if (i + 2 >= text.size()) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc() || end != text.data() + i + 3) return std::nullopt;
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

std::optional<int> number(std::string_view text, int min, int max) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

// Reads `db` and `password` from a query string.
std::optional<std::string> read_query(std::string_view query, RedisEndpoint& out) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    auto name = pair.substr(0, eq);
    auto value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (name == "db") {
      auto db = number(value, 0, 1 << 20);
      if (!db) return "db must be a number";
      out.db = *db;
    } else if (name == "password") {
      auto decoded = decode(value);
      if (!decoded) return "the password is not percent-encoded properly";
      out.password = *decoded;
    } else {
      return "unknown parameter \"" + std::string(name) + "\" (db and password are known)";
    }
  }
  return std::nullopt;
}

}  // namespace

std::variant<RedisEndpoint, std::string> parse_redis_url(const std::string& url) {
  std::string_view rest(url);
  RedisEndpoint out;
  if (rest.substr(0, kUnix.size()) == kUnix) {
    rest.remove_prefix(kUnix.size());
    auto question = rest.find('?');
    out.socket_path = std::string(rest.substr(0, question));
    if (out.socket_path.empty() || out.socket_path.front() != '/') {
      return std::string("a unix:// URL needs an absolute socket path (unix:///run/redis.sock)");
    }
    if (question != std::string_view::npos) {
      if (auto problem = read_query(rest.substr(question + 1), out)) return *problem;
    }
    return out;
  }
  if (rest.substr(0, kTcp.size()) != kTcp) {
    if (rest.substr(0, 9) == "rediss://") return std::string("TLS (rediss://) is not supported");
    return std::string("must start with redis:// or unix://");
  }
  rest.remove_prefix(kTcp.size());
  auto authority = rest.substr(0, rest.find_first_of("/?"));
  auto tail = rest.substr(authority.size());
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    auto userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    auto user = decode(userinfo.substr(0, colon));
    auto password = decode(colon == std::string_view::npos ? std::string_view() : userinfo.substr(colon + 1));
    if (!user || !password) return std::string("the user or password is not percent-encoded properly");
    out.username = *user;
    out.password = *password;
  }
  auto port_colon = authority.rfind(':');
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::string("an IPv6 host needs its closing ]");
    out.host = std::string(authority.substr(1, close - 1));
    port_colon = authority.size() > close + 1 && authority[close + 1] == ':' ? close + 1 : std::string_view::npos;
  } else {
    out.host = std::string(authority.substr(0, port_colon));
  }
  if (out.host.empty()) return std::string("the host is missing");
  if (out.host.find_first_of(" \t") != std::string::npos) return std::string("the host must not contain spaces");
  if (port_colon != std::string_view::npos) {
    auto port = number(authority.substr(port_colon + 1), 1, 65535);
    if (!port) return std::string("port must be a number from 1 to 65535");
    out.port = *port;
  }
  auto question = tail.find('?');
  auto path = tail.substr(0, question);
  if (path.size() > 1) {
    auto db = number(path.substr(1), 0, 1 << 20);
    if (!db) return std::string("the path must be a database number (redis://host:6379/0)");
    out.db = *db;
  }
  if (question != std::string_view::npos) {
    if (auto problem = read_query(tail.substr(question + 1), out)) return *problem;
  }
  return out;
}

std::string redact_redis_url(const std::string& url) {
  std::string out = url;
  if (out.compare(0, kTcp.size(), kTcp) == 0) redact_userinfo_password(out, kTcp.size());
  auto query = out.find('?');
  if (query != std::string::npos) redact_password_parameters(out, query);
  return out;
}

}  // namespace ps::config
