// fetch() from an app against a local HTTP server.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <nlohmann/json.hpp>

#include "runtime/http_fetcher.h"
#include "server/http_server.h"
#include "tests/support/http_client.h"
#include "tests/support/runtime_harness.h"
#include "tests/support/sandbox_harness.h"
#include "tests/support/temp_dir.h"

using ps::server::HttpRequest;
using ps::server::HttpResponder;
using ps::server::HttpResponse;
using ps::test::SandboxHarness;
using nlohmann::json;

namespace {

ps::server::HttpServer local_server() {
  ps::server::HttpRoutes routes;
  routes.insert(ps::server::get_route("/ok", [] { return HttpResponse{200, "application/json", R"({"hello":"world"})"}; }));
  routes.insert(ps::server::get_route("/missing", [] { return HttpResponse{404, "text/plain", "nope"}; }));
  routes.insert(ps::server::get_route("/big", [] { return HttpResponse{200, "text/plain", std::string(3 << 20, 'x')}; }));
  routes.insert(ps::server::get_route("/redirect", [] { return HttpResponse{302, "text/plain", ""}; }));
  routes[{"GET", "/slow"}] = [](const HttpRequest&, HttpResponder respond) {
    std::thread([respond] {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      respond(HttpResponse{200, "text/plain", "late"});
    }).detach();
  };
  routes[{"POST", "/echo"}] = [](const HttpRequest& req, HttpResponder respond) {
    respond(HttpResponse{201, "application/json", json{{"body", req.body}, {"query", req.query}}.dump()});
  };
  return ps::server::HttpServer("127.0.0.1", 0, std::move(routes));
}

// Fetch options that let apps reach the tests' servers on loopback.
ps::runtime::FetchOptions loopback_allowed() {
  ps::runtime::FetchOptions options;
  options.allowed_hosts = {"127.0.0.1"};
  return options;
}

// Runs `body` (an async function body with `base` in scope) and returns what it stored in e.properties.out.
json run_fetch(const std::string& body, int port, ps::runtime::FetchOptions options = loopback_allowed()) {
  ps::runtime::BeastFetcher fetcher(options);
  ps::runtime::HostServices host;
  host.http = &fetcher;
  SandboxHarness h({{"index.js", "export async function processEvent(e) {\n const base = 'http://127.0.0.1:" +
                                     std::to_string(port) + "'\n" + body + "\n return e }"}},
                   {}, host);
  auto out = h.process_event(R"({"team_id":1,"properties":{}})");
  INFO(out.error);
  REQUIRE(out.ok());
  return json::parse(*out.value)["properties"]["out"];
}

}  // namespace

TEST_CASE("fetch: a JSON response with status, headers, text and json", "[runtime][fetch]") {
  auto server = local_server();
  auto out = run_fetch(R"(
    const res = await fetch(base + '/ok')
    e.properties.out = { status: res.status, ok: res.ok, statusText: res.statusText,
                         type: res.headers.get('Content-Type'), body: await res.json() }
  )", server.port());
  CHECK(out == json({{"status", 200}, {"ok", true}, {"statusText", "OK"}, {"type", "application/json"},
                     {"body", {{"hello", "world"}}}}));
}

TEST_CASE("fetch: a 404 resolves with ok false", "[runtime][fetch]") {
  auto server = local_server();
  auto out = run_fetch(R"(
    const res = await fetch(base + '/missing')
    e.properties.out = [res.status, res.ok, await res.text()]
  )", server.port());
  CHECK(out == json::array({404, false, "nope"}));
}

TEST_CASE("fetch: POST sends the method, headers and body", "[runtime][fetch]") {
  auto server = local_server();
  auto out = run_fetch(R"(
    const res = await fetch(base + '/echo?x=1', { method: 'post', headers: { 'Content-Type': 'application/json' },
                                                  body: JSON.stringify({ a: 1 }) })
    e.properties.out = [res.status, await res.json()]
  )", server.port());
  CHECK(out == json::array({201, {{"body", R"({"a":1})"}, {"query", "x=1"}}}));
}

TEST_CASE("fetch: a URL that needs the URL parser is sent as the URL Standard writes it", "[runtime][fetch]") {
  auto server = local_server();
  auto out = run_fetch(R"(
    const encoded = await fetch(base + '/echo?x=a b&y=ü', { method: 'POST' })
    const object = await fetch(new URL('/echo?from=object', base), { method: 'POST' })
    const relative = await fetch(base + '/nowhere/../echo?dots=1', { method: 'POST' })
    e.properties.out = [(await encoded.json()).query, (await object.json()).query, (await relative.json()).query]
  )", server.port());
  CHECK(out == json::array({"x=a%20b&y=%C3%BC", "from=object", "dots=1"}));
}

TEST_CASE("fetch: a timeout rejects with a TypeError naming it", "[runtime][fetch]") {
  auto server = local_server();
  auto out = run_fetch(R"(
    try { await fetch(base + '/slow', { timeout: 200 }); e.properties.out = 'resolved' }
    catch (err) { e.properties.out = [err.constructor.name, err.message] }
  )", server.port());
  CHECK(out[0] == "TypeError");
  CHECK(out[1].get<std::string>().find("timed out after 200 ms") != std::string::npos);
}

TEST_CASE("fetch: an app's own timeout is capped at the fetcher's maximum (the call's limit)", "[runtime][fetch]") {
  auto server = local_server();
  auto options = loopback_allowed();
  options.max_timeout = std::chrono::milliseconds(300);
  auto out = run_fetch(R"(
    try { await fetch(base + '/slow', { timeout: 3600000 }); e.properties.out = 'resolved' }
    catch (err) { e.properties.out = [err.constructor.name, err.message] }
  )", server.port(), options);
  CHECK(out[0] == "TypeError");
  CHECK(out[1].get<std::string>().find("timed out after 300 ms") != std::string::npos);
}

TEST_CASE("fetch: an app has at most runtime.fetch_max_concurrent requests in flight, and storage calls are capped too",
          "[runtime][fetch][quota]") {
  auto server = local_server();
  auto options = ps::test::RuntimeHarness::fast_options();
  options.fetch.allowed_hosts = {"127.0.0.1"};
  options.limits.wall = std::chrono::seconds(20);
  options.max_concurrent_fetches = 2;
  options.max_pending_storage_calls = 3;
  ps::test::RuntimeHarness h(options);
  h.load({ps::test::RuntimeHarness::entry(h.write_app("eager", {{"index.js", R"(
    const outcome = (r) => (r.status === 'fulfilled' ? 'ok' : r.reason.name + ': ' + r.reason.message)
    export async function processEvent(e, { storage }) {
      const base = 'http://127.0.0.1:' + e.properties.port
      const fetches = await Promise.allSettled([1, 2, 3, 4].map(() => fetch(base + '/slow')))
      const reads = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => storage.get('k' + i)))
      // Answered calls free their places.
      const later = await fetch(base + '/ok').then((r) => r.status)
      e.properties.out = { fetches: fetches.map(outcome), reads: reads.map(outcome), later }
      return e
    })"}}),
                                          {1})});
  auto out = h.run_chain(1, json{{"event", "e"}, {"team_id", 1}, {"properties", {{"port", server.port()}}}}.dump());
  auto got = out["event"]["properties"]["out"];
  const std::string busy = "RangeError: fetch: too many requests at once: this app has 2 in flight, the most it may "
                           "have (runtime.fetch_max_concurrent)";
  CHECK(got["fetches"] == json({"ok", "ok", busy, busy}));
  const std::string queued = "RangeError: storage: too many calls at once: this app has 3 waiting, the most it may "
                             "have (runtime.storage_max_pending)";
  CHECK(got["reads"] == json({"ok", "ok", "ok", queued, queued}));
  CHECK(got["later"] == 200);
  auto metrics = h.metrics().render();
  CHECK(metrics.find(R"(plugin_server_app_quota_refusals_total{app="eager",quota="concurrent_fetches"} 2)") !=
        std::string::npos);
  CHECK(metrics.find(R"(plugin_server_app_quota_refusals_total{app="eager",quota="pending_storage_calls"} 2)") !=
        std::string::npos);
}

TEST_CASE("fetch: a refused connection rejects with a TypeError", "[runtime][fetch]") {
  int closed_port = ps::test::free_port();
  auto out = run_fetch(R"(
    try { await fetch(base + '/'); e.properties.out = 'resolved' }
    catch (err) { e.properties.out = [err.constructor.name, err.message] }
  )", closed_port);
  CHECK(out[0] == "TypeError");
  CHECK(out[1].get<std::string>().find("cannot connect to 127.0.0.1:" + std::to_string(closed_port)) !=
        std::string::npos);
}

TEST_CASE("fetch: a response over the size cap rejects", "[runtime][fetch]") {
  auto server = local_server();
  auto options = loopback_allowed();
  options.max_response_bytes = 1 << 20;
  auto out = run_fetch(R"(
    try { await fetch(base + '/big'); e.properties.out = 'resolved' }
    catch (err) { e.properties.out = err.message }
  )", server.port(), options);
  CHECK(out.get<std::string>().find("larger than 1048576 bytes") != std::string::npos);
}

TEST_CASE("fetch: bad URLs and unknown DNS names reject clearly", "[runtime][fetch]") {
  auto out = run_fetch(R"(
    const errors = []
    for (const url of ['ftp://example.com/x', 'not a url', 'http://no-such-host.invalid/']) {
      try { await fetch(url) } catch (err) { errors.push(err.constructor.name + ': ' + err.message) }
    }
    e.properties.out = errors
  )", 1);
  REQUIRE(out.size() == 3);
  CHECK(out[0].get<std::string>().find("TypeError: fetch: only http and https") == 0);
  CHECK(out[1].get<std::string>().find("TypeError: Invalid URL") == 0);
  CHECK(out[2].get<std::string>().find("TypeError: fetch failed: cannot resolve no-such-host.invalid") == 0);
}

namespace {

// An https server with a self-signed certificate for 127.0.0.1 (made with
// the openssl command), answering one request on one connection.
class SelfSignedServer {
 public:
  explicit SelfSignedServer(std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
      : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    auto key = (dir_.path() / "key.pem").string(), cert = (dir_.path() / "cert.pem").string();
    auto cmd = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
               "-days 1 -keyout '" + key + "' -out '" + cert + "' >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    tls_.use_certificate_chain_file(cert);
    tls_.use_private_key_file(key, boost::asio::ssl::context::pem);
    thread_ = std::thread([this, answer] {
      boost::system::error_code ec;
      boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream(io_, tls_);
      acceptor_.accept(stream.lowest_layer(), ec);
      if (ec) return;
      stream.handshake(boost::asio::ssl::stream_base::server, ec);
      if (ec) return;
      std::string request;
      boost::asio::read_until(stream, boost::asio::dynamic_buffer(request), "\r\n\r\n", ec);
      if (ec) return;
      boost::asio::write(stream, boost::asio::buffer(answer), ec);
      stream.shutdown(ec);
    });
  }
  ~SelfSignedServer() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  std::string certificate_file() const { return (dir_.path() / "cert.pem").string(); }

 private:
  ps::test::TempDir dir_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ssl::context tls_{boost::asio::ssl::context::tls_server};
  std::thread thread_;
};

}  // namespace

TEST_CASE("fetch: https checks the server's certificate and refuses one nobody vouches for", "[runtime][fetch]") {
  SelfSignedServer server;
  auto out = run_fetch("try { await fetch('https://127.0.0.1:" + std::to_string(server.port()) +
                           "/'); e.properties.out = 'resolved' }\n"
                           "catch (err) { e.properties.out = [err.constructor.name, err.message] }",
                       1);
  CHECK(out[0] == "TypeError");
  CHECK(out[1].get<std::string>().find("TLS handshake with 127.0.0.1:" + std::to_string(server.port()) + " failed") !=
        std::string::npos);
  CHECK(out[1].get<std::string>().find("certificate verify failed") != std::string::npos);
}

TEST_CASE("fetch: https works with a server that runtime.fetch_ca_file vouches for", "[runtime][fetch]") {
  SelfSignedServer server;
  auto options = loopback_allowed();
  options.ca_file = server.certificate_file();
  auto out = run_fetch("const r = await fetch('https://127.0.0.1:" + std::to_string(server.port()) +
                           "/'); e.properties.out = [r.status, await r.text()]",
                       1, options);
  CHECK(out == json::array({200, "ok"}));
}

TEST_CASE("fetch: an https redirect to http is refused", "[runtime][fetch][policy]") {
  auto plain = local_server();
  SelfSignedServer server("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:" + std::to_string(plain.port()) +
                          "/ok\r\nContent-Length: 0\r\n\r\n");
  auto options = loopback_allowed();
  options.ca_file = server.certificate_file();
  auto out = run_fetch("try { await fetch('https://127.0.0.1:" + std::to_string(server.port()) +
                           "/'); e.properties.out = 'resolved' } catch (err) { e.properties.out = err.message }",
                       1, options);
  CHECK(out.get<std::string>().find("refused a redirect from https to http: http://127.0.0.1:") != std::string::npos);
}

namespace {

// Counts requests and echoes the headers it got; /to redirects to `target`.
struct HeaderEcho {
  std::atomic<int> hits{0};
  std::string target;  // set before the first request
  ps::server::HttpServer server{"127.0.0.1", 0, routes()};

  ps::server::HttpRoutes routes() {
    ps::server::HttpRoutes r;
    r[{"GET", "/echo"}] = [this](const HttpRequest& req, HttpResponder respond) {
      ++hits;
      respond(HttpResponse{200, "application/json", json(req.headers).dump()});
    };
    r[{"GET", "/to"}] = [this](const HttpRequest& req, HttpResponder respond) {
      ++hits;
      respond(HttpResponse{302, "text/plain", "", {{"Location", target}}});
    };
    return r;
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(server.port()); }
};

}  // namespace

TEST_CASE("fetch: loopback, private and link-local addresses are refused by default, in every spelling",
          "[runtime][fetch][policy]") {
  HeaderEcho echo;
  auto port = std::to_string(echo.server.port());
  auto out = run_fetch(R"(
    const errors = []
    for (const url of [base + '/echo', 'http://localhost:)" + port + R"(/echo', 'http://[::1]:)" + port + R"(/echo',
                       'http://[::ffff:127.0.0.1]:)" + port + R"(/echo', 'http://0.0.0.0:)" + port + R"(/echo',
                       'http://2130706433:)" + port + R"(/echo', 'http://169.254.169.254/latest/meta-data/',
                       'http://10.1.2.3/', 'http://192.168.0.1/', 'http://[fd00::1]/', 'http://[fe80::1]/']) {
      try { await fetch(url, { timeout: 2000 }); errors.push('reached ' + url) } catch (err) { errors.push(err.message) }
    }
    e.properties.out = errors
  )", echo.server.port(), ps::runtime::FetchOptions{});
  REQUIRE(out.size() == 11);
  const char* expected[] = {"127.0.0.1 is a loopback address", "is a loopback address", "::1 is a loopback address",
                            "is an IPv6 form of a loopback address", "0.0.0.0 is an unspecified",
                            "127.0.0.1 is a loopback address", "169.254.169.254 is a link-local address",
                            "10.1.2.3 is a private address", "192.168.0.1 is a private address",
                            "fd00::1 is a unique-local (private) address", "fe80::1 is a link-local address"};
  for (std::size_t i = 0; i < out.size(); ++i) {
    INFO(out[i]);
    CHECK(out[i].get<std::string>().find("fetch failed: refused to connect to ") == 0);
    CHECK(out[i].get<std::string>().find(expected[i]) != std::string::npos);
  }
  CHECK(echo.hits == 0);
}

TEST_CASE("fetch: the allow-list opens exactly the hosts, ports and blocks it names", "[runtime][fetch][policy]") {
  HeaderEcho echo;
  auto port = std::to_string(echo.server.port());
  auto reach = [&](std::vector<std::string> allowed, const std::string& url) {
    ps::runtime::FetchOptions options;
    options.allowed_hosts = std::move(allowed);
    return run_fetch("try { const r = await fetch('" + url + "'); e.properties.out = r.status }"
                     "catch (err) { e.properties.out = err.message }", 1, options);
  };
  CHECK(reach({"127.0.0.1:" + port}, echo.base() + "/echo") == 200);
  CHECK(reach({"127.0.0.1:1"}, echo.base() + "/echo").get<std::string>().find("refused") != std::string::npos);
  CHECK(reach({"127.0.0.0/8"}, echo.base() + "/echo") == 200);
  CHECK(reach({"10.0.0.0/8"}, echo.base() + "/echo").get<std::string>().find("refused") != std::string::npos);
  CHECK(reach({"LocalHost"}, "http://localhost:" + port + "/echo") == 200);
  CHECK(reach({"localhost"}, echo.base() + "/echo").get<std::string>().find("refused") != std::string::npos);
  CHECK(echo.hits == 3);
}

TEST_CASE("fetch: every redirect hop is checked, and credentials do not cross origins", "[runtime][fetch][policy]") {
  HeaderEcho first, second;
  auto send = R"(const r = await fetch(base + '/to', { headers: { Authorization: 'Bearer s3cret', Cookie: 'id=1', 'X-Kept': 'yes' } })
                 e.properties.out = await r.json())";
  // Another origin (another port): the credentials stay behind.
  first.target = second.base() + "/echo";
  auto cross = run_fetch(send, first.server.port());
  CHECK(cross["x-kept"] == "yes");
  CHECK_FALSE(cross.contains("authorization"));
  CHECK_FALSE(cross.contains("cookie"));
  // The same origin keeps them.
  first.target = first.base() + "/echo";
  auto same = run_fetch(send, first.server.port());
  CHECK(same["authorization"] == "Bearer s3cret");
  CHECK(same["cookie"] == "id=1");
  // A hop to an address the allow-list does not open is refused.
  ps::runtime::FetchOptions only_first;
  only_first.allowed_hosts = {"127.0.0.1:" + std::to_string(first.server.port())};
  first.target = second.base() + "/echo";
  auto refused = run_fetch("try { await fetch(base + '/to'); e.properties.out = 'reached' }"
                           "catch (err) { e.properties.out = err.message }", first.server.port(), only_first);
  CHECK(refused.get<std::string>().find("refused to connect to 127.0.0.1: 127.0.0.1 is a loopback address") !=
        std::string::npos);
  CHECK(second.hits == 1);  // only by the cross-origin hop
}
