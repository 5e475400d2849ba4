#include "config/url_redaction.h"

namespace ps::config {

void redact_userinfo_password(std::string& url, std::size_t authority_start) {
  auto authority_end = url.find_first_of("/?", authority_start);
  if (authority_end == std::string::npos) authority_end = url.size();
  auto at = url.rfind('@', authority_end);
  if (at == std::string::npos || at <= authority_start) return;
  auto colon = url.find(':', authority_start);
  if (colon != std::string::npos && colon < at) url.replace(colon + 1, at - colon - 1, "***");
}

void redact_password_parameters(std::string& url, std::size_t from) {
  for (auto pos = url.find("password=", from); pos != std::string::npos; pos = url.find("password=", pos + 1)) {
    char before = pos == 0 ? '\0' : url[pos - 1];
    if (before != '?' && before != '&') continue;
    auto value_start = pos + 9;
    auto value_end = url.find('&', value_start);
    if (value_end == std::string::npos) value_end = url.size();
    url.replace(value_start, value_end - value_start, "***");
  }
}

}  // namespace ps::config
