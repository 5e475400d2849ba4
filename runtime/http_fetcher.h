#pragma once
// fetch() on Boost.Beast: HTTP/1.1 over TCP or TLS (OpenSSL, peers verified
// against the system's CAs), redirects followed, every request bounded by a
// timeout and a response size cap. One I/O thread serves all requests.
// Only public addresses are reached unless allowed (see address_policy.h);
// a redirect to another origin drops the credentials, and one from https
// to http is refused.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "runtime/host_services.h"

namespace ps::runtime {

struct FetchOptions {
  std::chrono::milliseconds default_timeout{10000};
  // The longest `timeout` an app may ask for: a request cannot outlive the
  // call that made it (runtime.task_timeout_ms), so its socket is not held
  // after the call has failed.
  std::chrono::milliseconds max_timeout{30000};
  std::size_t max_response_bytes = 16u << 20;
  int max_redirects = 5;
  // PEM certificates to trust besides the system's (a private CA).
  std::string ca_file;
  // runtime.fetch_allowed_hosts: hosts, host:port or CIDR blocks reachable
  // although not public (see AddressPolicy).
  std::vector<std::string> allowed_hosts;
};

class BeastFetcher : public HttpFetcher {
 public:
  explicit BeastFetcher(FetchOptions options = {});
  ~BeastFetcher() override;
  void fetch(FetchRequest request, std::function<void(FetchResult)> done) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ps::runtime
