#include "runtime/http_fetcher.h"

#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "runtime/address_policy.h"

namespace ps::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

struct Target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path;  // path and query
};

std::optional<Target> parse_target(const std::string& url, std::string* problem) {
  Target t;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    t.tls = true;
    rest = url.substr(8);
  } else {
    *problem = "only http and https URLs are supported: " + url;
    return std::nullopt;
  }
  auto path_start = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, path_start);
  t.path = path_start == std::string::npos ? "/" : rest.substr(path_start);
  if (auto hash = t.path.find('#'); hash != std::string::npos) t.path.resize(hash);
  if (t.path.empty() || t.path[0] == '?') t.path = "/" + t.path;
  if (auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) {
      *problem = "invalid URL: " + url;
      return std::nullopt;
    }
    t.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') t.port = authority.substr(close + 2);
  } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
    t.host = authority.substr(0, colon);
    t.port = authority.substr(colon + 1);
  } else {
    t.host = authority;
  }
  if (t.port.empty()) t.port = t.tls ? "443" : "80";
  if (t.host.empty()) {
    *problem = "invalid URL (no host): " + url;
    return std::nullopt;
  }
  return t;
}

// Headers that carry credentials: not sent on to another origin.
bool credential_header(const std::string& name) {
  return beast::iequals(name, "authorization") || beast::iequals(name, "cookie") ||
         beast::iequals(name, "proxy-authorization");
}

bool same_origin(const Target& a, const Target& b) {
  return a.tls == b.tls && beast::iequals(a.host, b.host) && a.port == b.port;
}

std::string resolve_location(const std::string& base, const Target& target, const std::string& location) {
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) return location;
  std::string origin = (target.tls ? "https://" : "http://") + target.host + ":" + target.port;
  if (location.rfind("//", 0) == 0) return (target.tls ? "https:" : "http:") + location;
  if (!location.empty() && location[0] == '/') return origin + location;
  auto dir = target.path.substr(0, target.path.rfind('/') + 1);
  return origin + dir + location;
}

}  // namespace

struct BeastFetcher::Impl {
  FetchOptions options;
  AddressPolicy policy;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  ssl::context tls{ssl::context::tls_client};
  std::thread thread;

  explicit Impl(FetchOptions o) : options(o), policy(options.allowed_hosts) {
    tls.set_default_verify_paths();
    if (!options.ca_file.empty()) tls.load_verify_file(options.ca_file);
    tls.set_verify_mode(ssl::verify_peer);
    thread = std::thread([this] { io.run(); });
  }
  ~Impl() {
    work.reset();
    io.stop();
    thread.join();
  }
};

namespace {

// One request/response exchange (one hop of a redirect chain).
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  using Done = std::function<void(FetchResult)>;

  Exchange(asio::io_context& io, ssl::context& tls, const FetchOptions& options, const AddressPolicy& policy,
           FetchRequest request, Target target, std::chrono::steady_clock::time_point deadline, int redirects_left,
           Done done)
      : io_(io), tls_ctx_(tls), options_(options), policy_(policy), request_(std::move(request)),
        target_(std::move(target)), deadline_(deadline), redirects_left_(redirects_left), done_(std::move(done)),
        resolver_(io), timer_(io) {}

  void start() {
    auto self = shared_from_this();
    timer_.expires_at(deadline_);
    timer_.async_wait([self](beast::error_code ec) {
      if (ec) return;  // cancelled: finished in time
      self->timed_out_ = true;
      self->resolver_.cancel();
      self->close();
    });
    resolver_.async_resolve(target_.host, target_.port, [self](beast::error_code ec, tcp::resolver::results_type r) {
      if (ec) return self->fail("cannot resolve " + self->target_.host + ": " + ec.message());
      self->endpoints_ = self->permitted(r);
      self->connect(self->endpoints_);
    });
  }

 private:
  void close() {
    beast::error_code ignored;
    if (tls_) beast::get_lowest_layer(*tls_).socket().close(ignored);
    if (plain_) plain_->socket().close(ignored);
  }

  // The resolved addresses the policy lets this hop reach. The connection
  // goes to exactly these (no second lookup a DNS answer could change).
  std::vector<tcp::endpoint> permitted(const tcp::resolver::results_type& results) {
    std::vector<tcp::endpoint> out;
    for (const auto& entry : results) {
      auto why = policy_.refusal(target_.host, entry.endpoint().port(), entry.endpoint().address());
      if (!why) out.push_back(entry.endpoint());
      else if (refusal_.empty()) refusal_ = *why;
    }
    return out;
  }

  void connect(const std::vector<tcp::endpoint>& endpoints) {
    if (endpoints.empty()) {
      return fail(refusal_.empty() ? "cannot resolve " + target_.host : "refused to connect to " + target_.host + ": " + refusal_);
    }
    auto self = shared_from_this();
    if (target_.tls) {
      tls_.emplace(io_, tls_ctx_);
      if (!SSL_set_tlsext_host_name(tls_->native_handle(), target_.host.c_str())) {
        return fail("TLS: cannot set the server name " + target_.host);
      }
      tls_->set_verify_callback(ssl::host_name_verification(target_.host));
      beast::get_lowest_layer(*tls_).async_connect(endpoints, [self](beast::error_code ec, const tcp::endpoint&) {
        if (ec) return self->fail("cannot connect to " + self->where() + ": " + ec.message());
        self->tls_->async_handshake(ssl::stream_base::client, [self](beast::error_code ec) {
          if (ec) return self->fail("TLS handshake with " + self->where() + " failed: " + ec.message());
          self->write();
        });
      });
    } else {
      plain_.emplace(io_);
      plain_->async_connect(endpoints, [self](beast::error_code ec, const tcp::endpoint&) {
        if (ec) return self->fail("cannot connect to " + self->where() + ": " + ec.message());
        self->write();
      });
    }
  }

  void write() {
    auto verb = http::string_to_verb(request_.method);
    if (verb == http::verb::unknown) return fail("unsupported method " + request_.method);
    req_.method(verb);
    req_.target(target_.path);
    req_.version(11);
    bool default_port = target_.port == (target_.tls ? "443" : "80");
    req_.set(http::field::host, default_port ? target_.host : target_.host + ":" + target_.port);
    req_.set(http::field::user_agent, "plugin-server");
    req_.set(http::field::accept, "*/*");
    for (const auto& [name, value] : request_.headers) req_.set(name, value);
    req_.set(http::field::accept_encoding, "identity");
    req_.set(http::field::connection, "close");
    req_.body() = request_.body;
    req_.prepare_payload();
    parser_.body_limit(options_.max_response_bytes);
    auto self = shared_from_this();
    auto on_write = [self](beast::error_code ec, std::size_t) {
      if (ec) return self->fail("sending the request to " + self->where() + " failed: " + ec.message());
      self->read();
    };
    if (tls_) http::async_write(*tls_, req_, on_write);
    else http::async_write(*plain_, req_, on_write);
  }

  void read() {
    // The header first: Beast 1.74 skips its body limit check when the
    // header arrives in more than one piece, so check Content-Length here.
    auto self = shared_from_this();
    auto on_header = [self](beast::error_code ec, std::size_t) {
      if (ec == http::error::body_limit) return self->fail_too_large();
      if (ec) return self->fail("reading the response from " + self->where() + " failed: " + ec.message());
      auto length = self->parser_.content_length();
      if (length && *length > self->options_.max_response_bytes) return self->fail_too_large();
      self->read_body();
    };
    if (tls_) http::async_read_header(*tls_, buffer_, parser_, on_header);
    else http::async_read_header(*plain_, buffer_, parser_, on_header);
  }

  void read_body() {
    auto self = shared_from_this();
    auto on_read = [self](beast::error_code ec, std::size_t) {
      if (ec == http::error::body_limit) return self->fail_too_large();
      if (ec) return self->fail("reading the response from " + self->where() + " failed: " + ec.message());
      self->finish();
    };
    if (tls_) http::async_read(*tls_, buffer_, parser_, on_read);
    else http::async_read(*plain_, buffer_, parser_, on_read);
  }

  void fail_too_large() {
    fail("the response from " + where() + " is larger than " + std::to_string(options_.max_response_bytes) +
         " bytes");
  }

  void finish() {
    timer_.cancel();
    auto& res = parser_.get();
    int status = static_cast<int>(res.result_int());
    bool redirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    if (redirect && res.count(http::field::location)) {
      if (redirects_left_ == 0) return fail("too many redirects");
      auto next_url = resolve_location(request_.url, target_, std::string(res[http::field::location]));
      auto next = request_;
      next.url = next_url;
      if (status == 303 || ((status == 301 || status == 302) && request_.method == "POST")) {
        next.method = "GET";
        next.body.clear();
      }
      std::string problem;
      auto next_target = parse_target(next_url, &problem);
      if (!next_target) return fail(problem);
      if (target_.tls && !next_target->tls) return fail("refused a redirect from https to http: " + next_url);
      if (!same_origin(target_, *next_target)) {
        std::erase_if(next.headers, [](const auto& header) { return credential_header(header.first); });
      }
      std::make_shared<Exchange>(io_, tls_ctx_, options_, policy_, std::move(next), std::move(*next_target), deadline_,
                                 redirects_left_ - 1, std::move(done_))
          ->start();
      return;
    }
    FetchResponse out;
    out.status = status;
    out.status_text = std::string(res.reason());
    for (const auto& field : res) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = std::move(res.body());
    out.url = request_.url;
    auto done = std::move(done_);
    done(std::move(out));
  }

  void fail(const std::string& message) {
    timer_.cancel();
    if (!done_) return;
    auto done = std::move(done_);
    auto total = std::chrono::duration_cast<std::chrono::milliseconds>(request_.timeout).count();
    done(timed_out_ ? "request to " + where() + " timed out after " + std::to_string(total) + " ms" : message);
  }

  std::string where() const { return target_.host + ":" + target_.port; }

  asio::io_context& io_;
  ssl::context& tls_ctx_;
  const FetchOptions& options_;
  const AddressPolicy& policy_;
  std::string refusal_;  // why the policy refused an address of this hop
  std::vector<tcp::endpoint> endpoints_;
  FetchRequest request_;
  Target target_;
  std::chrono::steady_clock::time_point deadline_;
  int redirects_left_;
  Done done_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  bool timed_out_ = false;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response_parser<http::string_body> parser_;
};

}  // namespace

BeastFetcher::BeastFetcher(FetchOptions options) : impl_(std::make_unique<Impl>(options)) {}

BeastFetcher::~BeastFetcher() = default;

void BeastFetcher::fetch(FetchRequest request, std::function<void(FetchResult)> done) {
  std::string problem;
  auto target = parse_target(request.url, &problem);
  if (!target) {
    done(problem);
    return;
  }
  if (request.timeout.count() <= 0) request.timeout = impl_->options.default_timeout;
  request.timeout = std::min(request.timeout, impl_->options.max_timeout);
  auto deadline = std::chrono::steady_clock::now() + request.timeout;
  asio::post(impl_->io, [impl = impl_.get(), request = std::move(request), target = std::move(*target), deadline,
                         done = std::move(done)]() mutable {
    std::make_shared<Exchange>(impl->io, impl->tls, impl->options, impl->policy, std::move(request), std::move(target),
                               deadline, impl->options.max_redirects, std::move(done))
        ->start();
  });
}

}  // namespace ps::runtime
