#include "server/http_server.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
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

// A client that sends nothing for this long is dropped, so a slow client
// holds one socket at most this long and never blocks anybody else.
constexpr auto kIdleTimeout = std::chrono::seconds(10);
constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
constexpr int kMaxConnections = 256;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpRoutes& routes, std::atomic<int>& open)
      : stream_(std::move(socket)), routes_(routes), open_(open) {
    ++open_;
  }
  ~Session() { --open_; }

  void start() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(kMaxBodyBytes);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      close();
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
    request.method = head ? "GET" : std::string(req.method_string());
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
    auto route = routes_.find({request.method, request.path});
    if (route == routes_.end()) {
      bool other_method = false;
      for (const auto& [key, _] : routes_) other_method = other_method || key.second == request.path;
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
      route->second(request, responder);
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
    stream_.expires_after(kIdleTimeout);
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
  std::atomic<int>& open_;
};

}  // namespace

struct HttpServer::Impl {
  // Sessions refer to these two, and the last sessions die with `io`: keep
  // them declared before it so they outlive it.
  HttpRoutes routes;
  std::atomic<int> open_sessions{0};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (open_sessions.load() >= kMaxConnections) {
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          std::make_shared<Session>(std::move(socket), routes, open_sessions)->start();
        }
      } else {
        spdlog::warn("http: accept failed: {}", ec.message());
      }
      accept();
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
