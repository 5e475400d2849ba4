#pragma once
// The operator's HTTP endpoint: a small server on its own I/O thread.
// Handlers run on that thread, so they must not block: they answer from
// memory, or start work elsewhere and call `respond` when it is done (from
// any thread).

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "server/route_match.h"

namespace ps::server {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};  // besides Content-Type
};

struct HttpRequest {
  std::string method;  // GET, POST, ...
  std::string path;    // without the query
  std::string query;   // after '?', or empty
  std::map<std::string, std::string> headers;  // names in lower case; a repeated header keeps its last value
  std::string body;
  PathParams params;  // from the route's `{name}` segments
};

using HttpResponder = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(const HttpRequest&, HttpResponder respond)>;

// A handler, and the largest request body it takes (a larger one is
// answered 413 before the handler sees it).
struct HttpRoute {
  static constexpr std::size_t kDefaultMaxBody = 64 * 1024;
  HttpRoute() = default;
  // From any handler callable (a lambda too, so `routes[key] = [](...) {...}` reads as before).
  template <class Handler>
    requires std::is_constructible_v<HttpHandler, Handler>
  HttpRoute(Handler h, std::size_t max_body = kDefaultMaxBody) : handler(std::move(h)), max_body_bytes(max_body) {}
  HttpHandler handler;
  std::size_t max_body_bytes = kDefaultMaxBody;
};

// Keyed by {method, path}; a path may have `{name}` segments (route_match.h).
// HEAD is served by the GET route.
using HttpRoutes = std::map<std::pair<std::string, std::string>, HttpRoute>;

// A GET route whose answer is ready at once.
inline std::pair<std::pair<std::string, std::string>, HttpRoute> get_route(std::string path,
                                                                            std::function<HttpResponse()> answer) {
  return {{"GET", std::move(path)}, [answer = std::move(answer)](const HttpRequest&, HttpResponder respond) {
            respond(answer());
          }};
}

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
