#pragma once
// Which parts of the daemon are ready, for /_ready. Parts report themselves
// from their own threads; the HTTP handler only reads.

#include <map>
#include <mutex>
#include <string>

namespace ps::server {

class Readiness {
 public:
  // `part` is ready (or not, with a short reason for operators).
  void set(const std::string& part, bool ready, const std::string& detail = "");

  struct Report {
    bool ready = false;
    std::string json;  // {"ready":bool,"parts":{"postgres":{"ready":true,"detail":""},...}}
  };
  Report report() const;

 private:
  struct State {
    bool ready = false;
    std::string detail;
  };
  mutable std::mutex mutex_;
  std::map<std::string, State> parts_;
};

}  // namespace ps::server
