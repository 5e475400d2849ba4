#pragma once
// One entry of runtime.fetch_allowed_hosts: a host (any port), host:port
// ("[v6]:port" for IPv6), or a CIDR block. Parsed here, so a bad entry stops
// start-up with the others; used by the runtime's address policy.

#include <optional>
#include <string>

namespace ps::config {

struct AllowEntry {
  // A named host (lower case, without brackets), or a CIDR block's network.
  std::string host;
  std::optional<unsigned short> port;  // named hosts only; none = any port
  int prefix = -1;                     // >= 0: `host` is a network address of a CIDR block
};

std::optional<AllowEntry> parse_allow_entry(const std::string& entry, std::string* problem);

}  // namespace ps::config
