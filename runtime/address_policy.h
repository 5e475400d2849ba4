#pragma once
// Where fetch() may connect. Apps are tenants: by default they reach only
// public addresses, never the daemon's own ports, its database, the cloud's
// metadata service or a private network. Checked on the resolved address of
// every hop (so neither a DNS name nor a redirect gets around it), with an
// operator's allow-list (runtime.fetch_allowed_hosts) for named exceptions.

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace ps::runtime {

class AddressPolicy {
 public:
  // Entries as config::parse_allow_entry reads them: "host" (any port),
  // "host:port" ("[v6]:port"), or a CIDR block ("10.1.0.0/16", "fd00::/8").
  // Throws std::invalid_argument naming the first bad entry.
  explicit AddressPolicy(const std::vector<std::string>& allowed = {});

  // nullopt when `host` (as the URL names it) may be reached at `address`
  // on `port`; else why not.
  std::optional<std::string> refusal(const std::string& host, unsigned short port,
                                     const boost::asio::ip::address& address) const;

  // Why an address is not a public one ("a loopback address"), or nullopt.
  static std::optional<std::string> special_use(const boost::asio::ip::address& address);

 private:
  struct Block {
    boost::asio::ip::address network;
    int prefix = 0;
  };
  struct NamedHost {
    std::string host;  // lower case, without brackets
    std::optional<unsigned short> port;
  };
  std::vector<Block> blocks_;
  std::vector<NamedHost> hosts_;
};

}  // namespace ps::runtime
