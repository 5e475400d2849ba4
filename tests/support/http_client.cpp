#include "tests/support/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace ps::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string http_raw(const std::string& host, int port, const std::string& raw) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port)));
  asio::write(socket, asio::buffer(raw));
  std::string out;
  beast::error_code ec;
  asio::read(socket, asio::dynamic_buffer(out), ec);
  return out;
}

HttpResult http_request(const std::string& method, const std::string& host, int port, const std::string& target) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port)));
  http::request<http::empty_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, host);
  req.keep_alive(false);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.skip(method == "HEAD");
  http::read(stream, buffer, parser);
  auto& res = parser.get();
  return {static_cast<int>(res.result_int()), std::string(res[http::field::content_type]), res.body()};
}

int free_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

}  // namespace ps::test
