#pragma once
// A blocking HTTP/1.1 client for tests: one request per connection.

#include <string>

namespace ps::test {

struct HttpResult {
  int status = 0;
  std::string content_type;
  std::string body;
};

// Sends `raw` bytes to host:port and returns what came back until the server closed.
std::string http_raw(const std::string& host, int port, const std::string& raw);

HttpResult http_request(const std::string& method, const std::string& host, int port, const std::string& target);
inline HttpResult http_get(const std::string& host, int port, const std::string& target) {
  return http_request("GET", host, port, target);
}

// A port that was free a moment ago, for servers that must be told their port.
int free_port();

}  // namespace ps::test
