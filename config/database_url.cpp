#include "config/database_url.h"

#include <libpq-fe.h>

#include <cctype>
#include <memory>
#include <string_view>

#include "config/url_redaction.h"

namespace ps::config {
namespace {

constexpr std::string_view kSchemes[] = {"postgresql://", "postgres://"};

std::optional<std::size_t> scheme_length(std::string_view url) {
  for (auto scheme : kSchemes) {
    if (url.substr(0, scheme.size()) == scheme) return scheme.size();
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> database_url_problem(const std::string& url) {
  auto scheme = scheme_length(url);
  if (!scheme) return "must start with postgresql:// or postgres://";
  // libpq's own parser, which the connection will use: what it refuses
  // would leave the daemon never ready.
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(PQconninfoParse(url.c_str(), &error),
                                                                         PQconninfoFree);
  if (!options) {
    std::string why = error ? error : "libpq cannot parse it";
    PQfreemem(error);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return why;
  }
  std::string_view rest(url);
  rest.remove_prefix(*scheme);
  auto authority = rest.substr(0, rest.find_first_of("/?"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (authority.find_first_of(" \t") != std::string_view::npos) return "host must not contain spaces";
  // Only the last host of a comma list carries the port we can check simply.
  auto last_host = authority.substr(authority.rfind(',') == std::string_view::npos ? 0 : authority.rfind(',') + 1);
  if (!last_host.empty() && last_host.front() != '[') {
    if (auto colon = last_host.rfind(':'); colon != std::string_view::npos) {
      auto port = last_host.substr(colon + 1);
      if (port.empty() || port.size() > 5) return "port must be a number from 1 to 65535";
      long value = 0;
      for (char c : port) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return "port must be a number from 1 to 65535";
        value = value * 10 + (c - '0');
      }
      if (value < 1 || value > 65535) return "port must be a number from 1 to 65535";
    }
  }
  return std::nullopt;
}

std::string redact_database_url(const std::string& url) {
  auto scheme = scheme_length(url);
  if (!scheme) return url;
  std::string out = url;
  redact_userinfo_password(out, *scheme);
  // A password may also come as a query parameter.
  redact_password_parameters(out, *scheme);
  return out;
}

}  // namespace ps::config
