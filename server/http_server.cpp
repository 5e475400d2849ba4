#include "server/http_server.h"

#include <atomic>
#include <chrono>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

namespace ps::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// A request must arrive whole within this long (and a kept-alive
// connection must send its next one), so a slow client holds a socket
// briefly and never blocks anybody else.
constexpr auto kRequestTimeout = std::chrono::seconds(5);
constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
// A route that takes bodies larger than the default (an upload) has longer.
constexpr auto kLargeRequestTimeout = std::chrono::seconds(60);
constexpr std::size_t kMaxConnections = 256;

class Session;

// The open connections, oldest first. At the cap, a new client (a probe)
// takes the place of the oldest connection that is only waiting for a
// request, so idle clients can never keep /_health from answering.
class SessionTable {
 public:
  using Handle = std::list<Session*>::iterator;
  Handle add(Session* session) {
    std::lock_guard lock(mutex_);
    return sessions_.insert(sessions_.end(), session);
  }
  void remove(Handle handle) {
    std::lock_guard lock(mutex_);
    sessions_.erase(handle);
  }
  // Makes room for one more: false when every connection is busy with a request.
  bool make_room();

 private:
  std::mutex mutex_;
  std::list<Session*> sessions_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpRoutes& routes, SessionTable& table)
      : stream_(std::move(socket)), routes_(routes), table_(table), handle_(table.add(this)) {
    for (const auto& [key, route] : routes_) largest_body_ = std::max(largest_body_, route.max_body_bytes);
  }
  ~Session() { table_.remove(handle_); }

  void start() { read(); }

  // Waiting for a request, with nothing under way: safe to drop.
  bool idle() const { return reading_; }
  // Closes the connection from the I/O thread; the pending read ends.
  void evict() {
    auto self = weak_from_this().lock();
    if (!self) return;  // already on its way out
    reading_ = false;
    asio::post(stream_.get_executor(), [self] { self->close(); });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    // The header is checked against the largest any route takes; on_header
    // then holds the request to its own route's.
    parser_->body_limit(largest_body_);
    stream_.expires_after(kRequestTimeout);
    reading_ = true;
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  // The header is in: the route says how large a body it takes.
  void on_header(beast::error_code ec) {
    if (ec) return on_read(ec);
    const auto& req = parser_->get();
    std::string target(req.target());
    const auto* route = find_route(method_of(req), target.substr(0, target.find('?')), nullptr);
    auto limit = route ? route->max_body_bytes : HttpRoute::kDefaultMaxBody;
    if (auto length = parser_->content_length(); length && *length > limit) {
      return on_read(http::error::body_limit);
    }
    parser_->body_limit(limit);
    if (limit > HttpRoute::kDefaultMaxBody) stream_.expires_after(kLargeRequestTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  static std::string method_of(const http::request<http::string_body>& req) {
    return req.method() == http::verb::head ? "GET" : std::string(req.method_string());
  }

  // The route for a request, a literal path first; fills `params` from a
  // templated one.
  const HttpRoute* find_route(const std::string& method, const std::string& path, PathParams* params) const {
    if (auto exact = routes_.find({method, path}); exact != routes_.end()) return &exact->second;
    for (const auto& [key, route] : routes_) {
      if (key.first != method) continue;
      if (auto matched = match_path(key.second, path)) {
        if (params) *params = std::move(*matched);
        return &route;
      }
    }
    return nullptr;
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      close();
      return;
    }
    if (ec == http::error::body_limit) {
      respond(http::status::payload_too_large, "text/plain; charset=utf-8", "request body too large\n",
              /*keep_alive=*/false, /*head=*/false);
      return;
    }
    if (ec) {
      // A malformed request gets a 400 and the connection is closed.
      respond(http::status::bad_request, "text/plain; charset=utf-8", "bad request: " + ec.message() + "\n",
              /*keep_alive=*/false, /*head=*/false);
      return;
    }
    const auto& req = parser_->get();
    const bool head = req.method() == http::verb::head;
    const bool keep_alive = req.keep_alive();
    HttpRequest request;
    request.method = method_of(req);
    std::string target(req.target());
    auto question = target.find('?');
    request.path = target.substr(0, question);
    if (question != std::string::npos) request.query = target.substr(question + 1);
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers[name] = std::string(field.value());
    }
    request.body = req.body();
    const auto* route = find_route(request.method, request.path, &request.params);
    if (!route) {
      bool other_method = false;
      for (const auto& [key, _] : routes_) other_method = other_method || match_path(key.second, request.path);
      if (other_method) {
        respond(http::status::method_not_allowed, "text/plain; charset=utf-8", "method not allowed\n", keep_alive,
                head);
      } else {
        respond(http::status::not_found, "text/plain; charset=utf-8", "not found\n", keep_alive, head);
      }
      return;
    }
    // The handler may answer later and from another thread: hop back onto
    // this connection's strand to write.
    auto self = shared_from_this();
    auto responder = [self, keep_alive, head](HttpResponse out) {
      asio::post(self->stream_.get_executor(), [self, keep_alive, head, out = std::move(out)]() mutable {
        self->respond(static_cast<http::status>(out.status), out.content_type, std::move(out.body), keep_alive, head,
                      out.headers);
      });
    };
    try {
      route->handler(request, responder);
    } catch (const std::exception& e) {
      spdlog::error("http: handler for {} {} failed: {}", request.method, request.path, e.what());
      respond(http::status::internal_server_error, "text/plain; charset=utf-8", "internal error\n", keep_alive, head);
    }
  }

  void respond(http::status status, const std::string& type, std::string body, bool keep_alive, bool head,
               const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "plugin-server");
    for (const auto& [name, value] : headers) res->set(name, value);
    res->set(http::field::content_type, type);
    res->set(http::field::cache_control, "no-store");
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    if (head) res->body().clear();
    stream_.expires_after(kRequestTimeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
      if (ec || !keep_alive) {
        self->close();
        return;
      }
      self->read();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const HttpRoutes& routes_;
  std::size_t largest_body_ = HttpRoute::kDefaultMaxBody;
  SessionTable& table_;
  SessionTable::Handle handle_;
  std::atomic<bool> reading_{false};
};

bool SessionTable::make_room() {
  std::lock_guard lock(mutex_);
  if (sessions_.size() < kMaxConnections) return true;
  for (auto* session : sessions_) {
    if (session->idle()) {
      session->evict();
      return true;
    }
  }
  return false;
}

}  // namespace

struct HttpServer::Impl {
  // Sessions refer to these two, and the last sessions die with `io`: keep
  // them declared before it so they outlive it.
  HttpRoutes routes;
  SessionTable sessions;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_backoff{io};
  std::chrono::milliseconds backoff{0};
  std::chrono::steady_clock::time_point last_accept_warning;
  int accept_errors = 0;  // since the last warning
  std::thread thread;

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) return accept_failed(ec);
      backoff = std::chrono::milliseconds(0);
      if (sessions.make_room()) {
        std::make_shared<Session>(std::move(socket), routes, sessions)->start();
      } else {
        beast::error_code ignored;
        socket.close(ignored);
      }
      accept();
    });
  }

  // Out of file descriptors (or another accept error): wait, longer each
  // time up to a second, instead of spinning; warn at most once a second.
  void accept_failed(const beast::error_code& ec) {
    ++accept_errors;
    auto now = std::chrono::steady_clock::now();
    if (now - last_accept_warning >= std::chrono::seconds(1)) {
      spdlog::warn("http: accept failed: {} ({} time(s) since the last warning); retrying in {} ms", ec.message(),
                   accept_errors, std::max<long>(10, static_cast<long>(backoff.count())));
      last_accept_warning = now;
      accept_errors = 0;
    }
    backoff = std::clamp(backoff * 2, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
    accept_backoff.expires_after(backoff);
    accept_backoff.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec) accept();
    });
  }
};

HttpServer::HttpServer(const std::string& host, int port, HttpRoutes routes) : impl_(std::make_unique<Impl>()) {
  impl_->routes = std::move(routes);
  beast::error_code ec;
  auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::runtime_error("http.listen: \"" + host + "\" is not an IP address");
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("http.listen: cannot listen on " + host + ":" + std::to_string(port) + ": " +
                             ec.message());
  }
  impl_->accept();
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

HttpServer::~HttpServer() {
  impl_->io.stop();
  impl_->thread.join();
}

int HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace ps::server
