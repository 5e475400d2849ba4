#include "cli/admin_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace ps::cli {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

AdminClient::AdminClient(const std::string& url, std::string token, std::chrono::seconds timeout)
    : token_(std::move(token)), timeout_(timeout) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    throw AdminError(0, "--url must be http://host[:port] (the daemon's http.listen), not \"" + url + "\"");
  }
  auto authority = url.substr(scheme.size());
  authority = authority.substr(0, authority.find('/'));
  auto colon = authority.rfind(':');
  bool bracketed = !authority.empty() && authority.front() == '[';
  if (colon != std::string::npos && (!bracketed || authority[colon - 1] == ']')) {
    host_ = authority.substr(0, colon);
    port_ = authority.substr(colon + 1);
  } else {
    host_ = authority;
    port_ = "80";
  }
  if (bracketed && host_.size() >= 2) host_ = host_.substr(1, host_.size() - 2);
  if (host_.empty() || port_.empty()) throw AdminError(0, "--url names no host: \"" + url + "\"");
}

nlohmann::json AdminClient::call(const std::string& method, const std::string& target, const std::string& body,
                                 const std::string& content_type) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  http::response<http::string_body> response;
  try {
    tcp::resolver resolver(io);
    stream.expires_after(timeout_);
    stream.connect(resolver.resolve(host_, port_));
    http::request<http::string_body> request(http::string_to_verb(method), target, 11);
    request.set(http::field::host, host_);
    request.set(http::field::user_agent, "plugin-server-cli");
    if (!token_.empty()) request.set(http::field::authorization, "Bearer " + token_);
    if (!body.empty()) request.set(http::field::content_type, content_type);
    request.body() = body;
    request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    http::read(stream, buffer, parser);
    response = parser.release();
  } catch (const std::exception& e) {
    throw AdminError(0, "cannot reach the daemon at " + host_ + ":" + port_ + ": " + e.what());
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

  int status = static_cast<int>(response.result_int());
  auto json = response.body().empty() ? nlohmann::json() : nlohmann::json::parse(response.body(), nullptr, false);
  if (status >= 200 && status < 300) {
    if (json.is_discarded()) throw AdminError(status, "the daemon answered something other than JSON");
    return json;
  }
  std::string error = "HTTP " + std::to_string(status);
  std::vector<std::string> details;
  if (json.is_object() && json.contains("error") && json["error"].is_string()) {
    error += ": " + json["error"].get<std::string>();
    if (json.contains("details") && json["details"].is_array()) {
      for (const auto& d : json["details"]) details.push_back(d.is_string() ? d.get<std::string>() : d.dump());
    }
  } else if (!response.body().empty()) {
    error += ": " + response.body().substr(0, 500);
  }
  throw AdminError(status, error, details);
}

}  // namespace ps::cli
