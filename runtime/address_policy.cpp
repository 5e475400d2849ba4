#include "runtime/address_policy.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "config/allow_list.h"

namespace ps::runtime {

namespace ip = boost::asio::ip;

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// Whether the first `prefix` bits of two addresses of one family agree.
bool same_prefix(const ip::address& a, const ip::address& b, int prefix) {
  if (a.is_v4() != b.is_v4()) return false;
  auto bytes = [](const ip::address& x) {
    std::array<unsigned char, 16> out{};
    if (x.is_v4()) {
      auto v4 = x.to_v4().to_bytes();
      std::copy(v4.begin(), v4.end(), out.begin());
    } else {
      out = x.to_v6().to_bytes();
    }
    return out;
  };
  auto x = bytes(a), y = bytes(b);
  for (int bit = 0; bit < prefix; ++bit) {
    int mask = 0x80 >> (bit % 8);
    if ((x[bit / 8] & mask) != (y[bit / 8] & mask)) return false;
  }
  return true;
}

struct Range {
  const char* network;
  int prefix;
  const char* what;
};

// IPv4 special-use blocks (RFC 6890 and its updates).
constexpr Range kV4[] = {
    {"0.0.0.0", 8, "an unspecified (\"this network\") address"},
    {"10.0.0.0", 8, "a private address"},
    {"100.64.0.0", 10, "a shared (carrier-grade NAT) address"},
    {"127.0.0.0", 8, "a loopback address"},
    {"169.254.0.0", 16, "a link-local address (where cloud metadata services live)"},
    {"172.16.0.0", 12, "a private address"},
    {"192.0.0.0", 24, "an IETF protocol address"},
    {"192.0.2.0", 24, "a documentation address"},
    {"192.168.0.0", 16, "a private address"},
    {"198.18.0.0", 15, "a benchmarking address"},
    {"198.51.100.0", 24, "a documentation address"},
    {"203.0.113.0", 24, "a documentation address"},
    {"224.0.0.0", 4, "a multicast address"},
    {"240.0.0.0", 4, "a reserved address"},
};

constexpr Range kV6[] = {
    {"::", 128, "an unspecified address"},
    {"::1", 128, "a loopback address"},
    {"fe80::", 10, "a link-local address"},
    {"fec0::", 10, "a site-local address"},
    {"fc00::", 7, "a unique-local (private) address"},
    {"ff00::", 8, "a multicast address"},
    {"2001:db8::", 32, "a documentation address"},
    {"100::", 64, "a discard address"},
};

std::optional<std::string> in_ranges(const ip::address& address, const Range* begin, const Range* end) {
  for (const auto* r = begin; r != end; ++r) {
    if (same_prefix(address, ip::make_address(r->network), r->prefix)) return std::string(r->what);
  }
  return std::nullopt;
}

// The IPv4 address an IPv6 one carries, for the forms that reach IPv4
// hosts: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64
// (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::).
std::optional<ip::address_v4> embedded_v4(const ip::address_v6& v6) {
  auto b = v6.to_bytes();
  auto tail = [&](int at) { return ip::address_v4(ip::address_v4::bytes_type{b[at], b[at + 1], b[at + 2], b[at + 3]}); };
  if (v6.is_v4_mapped()) return tail(12);
  if (same_prefix(v6, ip::make_address("64:ff9b::"), 96)) return tail(12);
  if (same_prefix(v6, ip::make_address("::"), 96)) return tail(12);
  if (b[0] == 0x20 && b[1] == 0x02) return tail(2);
  return std::nullopt;
}

}  // namespace

AddressPolicy::AddressPolicy(const std::vector<std::string>& allowed) {
  for (const auto& text : allowed) {
    std::string problem;
    auto entry = config::parse_allow_entry(text, &problem);
    if (!entry) throw std::invalid_argument(problem);
    if (entry->prefix >= 0) blocks_.push_back({ip::make_address(entry->host), entry->prefix});
    else hosts_.push_back({entry->host, entry->port});
  }
}

std::optional<std::string> AddressPolicy::special_use(const ip::address& address) {
  if (address.is_v4()) return in_ranges(address, std::begin(kV4), std::end(kV4));
  if (auto why = in_ranges(address, std::begin(kV6), std::end(kV6))) return why;
  if (auto v4 = embedded_v4(address.to_v6())) {
    if (auto why = in_ranges(ip::address(*v4), std::begin(kV4), std::end(kV4))) return "an IPv6 form of " + *why;
  }
  return std::nullopt;
}

std::optional<std::string> AddressPolicy::refusal(const std::string& host, unsigned short port,
                                                  const ip::address& address) const {
  auto name = lower(host);
  if (!name.empty() && name.front() == '[') name = name.substr(1, name.size() - 2);
  for (const auto& allowed : hosts_) {
    if (allowed.host == name && (!allowed.port || *allowed.port == port)) return std::nullopt;
  }
  for (const auto& block : blocks_) {
    auto candidate = address;
    if (address.is_v6() && block.network.is_v4() && address.to_v6().is_v4_mapped()) {
      candidate = ip::make_address_v4(ip::v4_mapped, address.to_v6());
    }
    if (same_prefix(candidate, block.network, block.prefix)) return std::nullopt;
  }
  auto why = special_use(address);
  if (!why) return std::nullopt;
  return address.to_string() + " is " + *why + "; apps may reach only public addresses unless "
         "runtime.fetch_allowed_hosts allows it";
}

}  // namespace ps::runtime
