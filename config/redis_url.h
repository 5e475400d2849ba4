#pragma once
// Redis addresses: redis://[[user]:password@]host[:port][/db] over TCP, or
// unix:///path/to/redis.sock[?db=N&password=...] over a Unix socket (what
// scripts/dev and the tests use).

#include <optional>
#include <string>
#include <variant>

namespace ps::config {

struct RedisEndpoint {
  std::string socket_path;  // set: a Unix socket; else host and port
  std::string host;
  int port = 6379;
  std::string username;  // empty: AUTH with the password only
  std::string password;  // empty: no AUTH
  int db = 0;
};

// The endpoint, or why `url` is not a usable Redis URL.
std::variant<RedisEndpoint, std::string> parse_redis_url(const std::string& url);

// The URL with its password replaced by "***".
std::string redact_redis_url(const std::string& url);

}  // namespace ps::config
