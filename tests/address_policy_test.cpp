#include <catch2/catch.hpp>

#include "runtime/address_policy.h"

using ps::runtime::AddressPolicy;
namespace ip = boost::asio::ip;

namespace {
std::string why(const std::string& address) { return AddressPolicy::special_use(ip::make_address(address)).value_or("public"); }
}  // namespace

TEST_CASE("address policy: special-use addresses of both families are named, public ones pass", "[runtime][policy]") {
  CHECK(why("127.0.0.1") == "a loopback address");
  CHECK(why("127.255.0.9") == "a loopback address");
  CHECK(why("0.0.0.0") == "an unspecified (\"this network\") address");
  CHECK(why("10.200.1.1") == "a private address");
  CHECK(why("172.16.0.1") == "a private address");
  CHECK(why("172.31.255.255") == "a private address");
  CHECK(why("172.32.0.1") == "public");
  CHECK(why("192.168.1.1") == "a private address");
  CHECK(why("169.254.169.254") == "a link-local address (where cloud metadata services live)");
  CHECK(why("100.64.0.1") == "a shared (carrier-grade NAT) address");
  CHECK(why("224.0.0.1") == "a multicast address");
  CHECK(why("255.255.255.255") == "a reserved address");
  CHECK(why("8.8.8.8") == "public");
  CHECK(why("::") == "an unspecified address");
  CHECK(why("::1") == "a loopback address");
  CHECK(why("fe80::1") == "a link-local address");
  CHECK(why("fd12:3456::1") == "a unique-local (private) address");
  CHECK(why("ff02::1") == "a multicast address");
  CHECK(why("::ffff:127.0.0.1") == "an IPv6 form of a loopback address");
  CHECK(why("::ffff:10.0.0.1") == "an IPv6 form of a private address");
  CHECK(why("64:ff9b::a9fe:a9fe") == "an IPv6 form of a link-local address (where cloud metadata services live)");
  CHECK(why("2002:c0a8:0101::1") == "an IPv6 form of a private address");
  CHECK(why("::ffff:8.8.8.8") == "public");
  CHECK(why("2606:4700::1111") == "public");
}

TEST_CASE("address policy: the allow-list opens hosts, host:port and CIDR blocks", "[runtime][policy]") {
  AddressPolicy policy({"internal.example", "metrics.local:9090", "10.1.0.0/16", "[fd00::5]:8443", "fd00:1::/32"});
  auto loopback = ip::make_address("127.0.0.1");
  CHECK_FALSE(policy.refusal("Internal.Example", 80, ip::make_address("10.9.9.9")));
  CHECK_FALSE(policy.refusal("metrics.local", 9090, loopback));
  CHECK(policy.refusal("metrics.local", 9091, loopback));
  CHECK_FALSE(policy.refusal("anything", 443, ip::make_address("10.1.200.3")));
  CHECK_FALSE(policy.refusal("anything", 443, ip::make_address("::ffff:10.1.0.1")));
  CHECK(policy.refusal("anything", 443, ip::make_address("10.2.0.1")));
  CHECK_FALSE(policy.refusal("[fd00::5]", 8443, ip::make_address("fd00::5")));
  CHECK(policy.refusal("fd00::5", 8444, ip::make_address("fd00::5")));
  CHECK_FALSE(policy.refusal("x", 1, ip::make_address("fd00:1:2::3")));
  CHECK(*policy.refusal("x", 1, loopback) ==
        "127.0.0.1 is a loopback address; apps may reach only public addresses unless runtime.fetch_allowed_hosts allows it");
  CHECK_THROWS_WITH(AddressPolicy({"10.0.0.0/33"}), Catch::Contains("the prefix must be 0 to 32"));
  CHECK_THROWS_WITH(AddressPolicy({"host:0"}), Catch::Contains("the port must be 1 to 65535"));
  CHECK_THROWS_WITH(AddressPolicy({"nothost/8"}), Catch::Contains("the network is not an IP address"));
}
