#include "config/allow_list.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace ps::config {

namespace {

std::optional<unsigned short> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<unsigned short>(value);
}

// 32 or 128 for an IPv4 or IPv6 address, 0 for anything else.
int address_bits(const std::string& text) {
  unsigned char buffer[16];
  if (inet_pton(AF_INET, text.c_str(), buffer) == 1) return 32;
  if (inet_pton(AF_INET6, text.c_str(), buffer) == 1) return 128;
  return 0;
}

}  // namespace

std::optional<AllowEntry> parse_allow_entry(const std::string& entry, std::string* problem) {
  auto bad = [&](const std::string& why) {
    *problem = "\"" + entry + "\" is not a host, host:port or CIDR block: " + why;
    return std::nullopt;
  };
  if (entry.empty()) return bad("empty");
  AllowEntry out;
  if (auto slash = entry.find('/'); slash != std::string::npos) {
    out.host = entry.substr(0, slash);
    int bits = address_bits(out.host);
    if (bits == 0) return bad("the network is not an IP address");
    auto text = std::string_view(entry).substr(slash + 1);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out.prefix);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || out.prefix < 0 || out.prefix > bits) {
      return bad("the prefix must be 0 to " + std::to_string(bits));
    }
    return out;
  }
  std::string host = entry;
  if (host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) return bad("no closing ]");
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':' || !(out.port = parse_port(std::string_view(host).substr(close + 2)))) {
        return bad("the port must be 1 to 65535");
      }
    }
    host = host.substr(1, close - 1);
    if (address_bits(host) != 128) return bad("[...] must hold an IPv6 address");
  } else if (auto colon = host.find(':'); colon != std::string::npos && host.find(':', colon + 1) == std::string::npos) {
    if (!(out.port = parse_port(std::string_view(host).substr(colon + 1)))) return bad("the port must be 1 to 65535");
    host = host.substr(0, colon);
  }
  if (host.empty()) return bad("no host");
  if (host.find_first_of(" \t/@?#") != std::string::npos) return bad("not a host name");
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  out.host = std::move(host);
  return out;
}

}  // namespace ps::config
