#include <catch2/catch.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <sys/resource.h>

#include <sstream>
#include <thread>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "server/http_server.h"
#include "tests/support/http_client.h"

using ps::server::HttpResponse;
using ps::server::HttpServer;
using ps::test::http_get;
using ps::test::http_raw;

namespace {
HttpServer make_server() {
  ps::server::HttpRoutes routes;
  routes.insert(ps::server::get_route("/hello", [] { return HttpResponse{200, "text/plain", "hi\n"}; }));
  routes.insert(ps::server::get_route("/boom", []() -> HttpResponse { throw std::runtime_error("kaput"); }));
  // Answers from another thread, later, with the request body echoed.
  routes[{"POST", "/echo"}] = [](const ps::server::HttpRequest& req, ps::server::HttpResponder respond) {
    std::thread([body = req.body, query = req.query, respond] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      respond(HttpResponse{201, "text/plain", query + ":" + body});
    }).detach();
  };
  routes[{"POST", "/items/{id}/parts/{part}"}] = [](const ps::server::HttpRequest& req,
                                                    ps::server::HttpResponder respond) {
    respond(HttpResponse{200, "text/plain", req.params.at("id") + "/" + req.params.at("part")});
  };
  routes[{"POST", "/items/all/parts/{part}"}] = [](const ps::server::HttpRequest&, ps::server::HttpResponder respond) {
    respond(HttpResponse{200, "text/plain", "literal"});
  };
  routes[{"POST", "/big"}] = ps::server::HttpRoute(
      [](const ps::server::HttpRequest& req, ps::server::HttpResponder respond) {
        respond(HttpResponse{200, "text/plain", std::to_string(req.body.size())});
      },
      1u << 20);
  return HttpServer("127.0.0.1", 0, std::move(routes));
}
}  // namespace

TEST_CASE("http server: a route may take a larger body than the default, others answer 413", "[http]") {
  auto server = make_server();
  auto post = [&](const std::string& path, std::size_t size) {
    return http_raw("127.0.0.1", server.port(),
                    "POST " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                        std::to_string(size) + "\r\n\r\n" + std::string(size, 'b'));
  };
  auto big = post("/big", 500000);
  CHECK(big.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(big.find("\r\n\r\n500000") != std::string::npos);
  // Announced too large: refused from the header, before any body is read.
  auto announce = [&](const std::string& path, std::size_t size) {
    return http_raw("127.0.0.1", server.port(),
                    "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n");
  };
  CHECK(announce("/big", (1u << 20) + 1).rfind("HTTP/1.1 413", 0) == 0);
  CHECK(announce("/echo", 100000).rfind("HTTP/1.1 413", 0) == 0);
  CHECK(post("/echo", 1000).rfind("HTTP/1.1 201", 0) == 0);
}

TEST_CASE("http server: path templates match one segment each and hand over their values", "[http]") {
  using ps::server::match_path;
  CHECK(match_path("/a/b", "/a/b") == ps::server::PathParams{});
  CHECK_FALSE(match_path("/a/b", "/a/c"));
  auto params = match_path("/items/{id}/parts/{part}", "/items/42/parts/x");
  REQUIRE(params);
  CHECK(params->at("id") == "42");
  CHECK(params->at("part") == "x");
  CHECK_FALSE(match_path("/items/{id}", "/items/"));
  CHECK_FALSE(match_path("/items/{id}", "/items"));
  CHECK_FALSE(match_path("/items/{id}", "/items/1/2"));
  CHECK_FALSE(match_path("/items/{id}", "/items/1/"));
  CHECK_FALSE(match_path("/items/{id}/x", "/items/1/y"));
  CHECK_FALSE(match_path("/items/{id}", "items/1"));
  // Values are percent-decoded; a broken escape matches nothing.
  CHECK(match_path("/jobs/{name}", "/jobs/Export%20events%2Fall")->at("name") == "Export events/all");
  CHECK_FALSE(match_path("/jobs/{name}", "/jobs/a%2"));
  CHECK_FALSE(match_path("/jobs/{name}", "/jobs/a%zz"));

  auto server = make_server();
  auto post = [&](const std::string& path) { return ps::test::http_request("POST", "127.0.0.1", server.port(), path); };
  auto answer = post("/items/7/parts/wheel");
  CHECK(answer.status == 200);
  CHECK(answer.body == "7/wheel");
  CHECK(post("/items/all/parts/wheel").body == "literal");  // each segment tried in order; literal first here
  CHECK(post("/items/7/parts").status == 404);
  CHECK(http_get("127.0.0.1", server.port(), "/items/7/parts/wheel").status == 405);
}

TEST_CASE("http server: routes, 404, query strings, HEAD and 405", "[http]") {
  auto server = make_server();
  auto ok = http_get("127.0.0.1", server.port(), "/hello?x=1");
  CHECK(ok.status == 200);
  CHECK(ok.body == "hi\n");
  CHECK(http_get("127.0.0.1", server.port(), "/nope").status == 404);
  auto head = ps::test::http_request("HEAD", "127.0.0.1", server.port(), "/hello");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(ps::test::http_request("POST", "127.0.0.1", server.port(), "/hello").status == 405);
}

TEST_CASE("http server: a throwing handler is a 500, not a crash", "[http]") {
  auto server = make_server();
  CHECK(http_get("127.0.0.1", server.port(), "/boom").status == 500);
  CHECK(http_get("127.0.0.1", server.port(), "/hello").status == 200);
}

TEST_CASE("http server: malformed requests get 400", "[http]") {
  auto server = make_server();
  auto reply = http_raw("127.0.0.1", server.port(), "THIS IS NOT HTTP\r\n\r\n");
  CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
  auto huge_header = http_raw("127.0.0.1", server.port(),
                              "GET /hello HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  CHECK(huge_header.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(http_get("127.0.0.1", server.port(), "/hello").status == 200);
}

TEST_CASE("http server: a slow client does not block other requests", "[http]") {
  auto server = make_server();
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket slow(io);
  slow.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server.port())});
  asio::write(slow, asio::buffer(std::string("GET /hello HTTP/1.1\r\nHost: x\r\n")));  // never finished
  CHECK(http_get("127.0.0.1", server.port(), "/hello").status == 200);
}

TEST_CASE("http server: keep-alive serves several requests on one connection", "[http]") {
  auto server = make_server();
  auto reply = http_raw("127.0.0.1", server.port(),
                        "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto first = reply.find("HTTP/1.1 200");
  REQUIRE(first != std::string::npos);
  CHECK(reply.find("HTTP/1.1 200", first + 1) != std::string::npos);
}

TEST_CASE("http server: a taken address is a clear error", "[http]") {
  auto server = make_server();
  try {
    HttpServer second("127.0.0.1", server.port(), {});
    FAIL("second bind succeeded");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(server.port())) !=
          std::string::npos);
  }
}

TEST_CASE("http server: a handler may answer later from another thread", "[http]") {
  auto server = make_server();
  auto reply = http_raw("127.0.0.1", server.port(),
                        "POST /echo?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  CHECK(reply.rfind("HTTP/1.1 201", 0) == 0);
  CHECK(reply.find("x=1:hello") != std::string::npos);
  CHECK(ps::test::http_request("GET", "127.0.0.1", server.port(), "/echo").status == 405);
}

TEST_CASE("http server: idle and half-sent connections cannot take the endpoint away", "[http]") {
  auto server = make_server();
  namespace asio = boost::asio;
  asio::io_context io;
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> idle;
  for (int i = 0; i < 400; ++i) {
    auto socket = std::make_unique<asio::ip::tcp::socket>(io);
    socket->connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server.port())});
    // Half of them start a request and never finish it.
    if (i % 2) asio::write(*socket, asio::buffer(std::string("GET /hello HTTP/1.1\r\nHost: x\r\n")));
    idle.push_back(std::move(socket));
  }
  for (int i = 0; i < 20; ++i) CHECK(http_get("127.0.0.1", server.port(), "/hello").status == 200);
}

TEST_CASE("http server: out of file descriptors, accepting backs off and recovers", "[http]") {
  // Log lines the server writes, counted. The logger outlives the server,
  // whose thread may still be writing to it.
  std::ostringstream log;
  auto counting = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  auto previous = spdlog::default_logger();
  auto server = make_server();
  spdlog::set_default_logger(counting);
  namespace asio = boost::asio;
  asio::io_context io;
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> clients;
  {
    // Few descriptors left: connections queue up that the server cannot accept.
    rlimit old{};
    getrlimit(RLIMIT_NOFILE, &old);
    int open_now = 0;
    for (int fd = 0; fd < 4096; ++fd) open_now += fcntl(fd, F_GETFD) != -1;
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(open_now + 60);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    for (int i = 0; i < 100; ++i) {
      auto socket = std::make_unique<asio::ip::tcp::socket>(io);
      boost::system::error_code ec;
      socket->connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server.port())}, ec);
      if (ec) break;
      clients.push_back(std::move(socket));
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
    clients.clear();
    REQUIRE(setrlimit(RLIMIT_NOFILE, &old) == 0);
  }
  spdlog::set_default_logger(previous);
  bool recovered = false;
  for (int i = 0; i < 50 && !recovered; ++i) {
    recovered = http_get("127.0.0.1", server.port(), "/hello").status == 200;
    if (!recovered) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(recovered);
  auto text = log.str();
  int warnings = 0;
  for (auto at = text.find("accept failed"); at != std::string::npos; at = text.find("accept failed", at + 1)) ++warnings;
  INFO(text);
  CHECK(warnings >= 1);  // it did run out
  CHECK(warnings <= 4);  // at most one a second, not one per attempt
}
