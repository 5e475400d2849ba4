#pragma once
// The operator's HTTP endpoint: a small GET-only server on its own thread.
// Handlers must answer from memory (they run on the server's I/O thread);
// parts that need slow checks keep their state fresh in the background.

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace ps::server {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse()>;
using HttpRoutes = std::map<std::string, HttpHandler>;

class HttpServer {
 public:
  // Binds and starts serving at once; throws std::runtime_error when the
  // address cannot be bound. Port 0 picks a free port (see port()).
  HttpServer(const std::string& host, int port, HttpRoutes routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ps::server
