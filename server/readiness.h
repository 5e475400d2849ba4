#pragma once
// Which parts of the daemon are ready, for /_ready. Parts report themselves
// from their own threads; the HTTP handler only reads.

#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace ps::server {

class Readiness {
 public:
  // `part` is ready (or not, with a short reason for operators).
  void set(const std::string& part, bool ready, const std::string& detail = "");
  // `part` is asked at each report: it answers ready or not, and why. The
  // probe must answer from memory.
  using Probe = std::function<bool(std::string* detail)>;
  void set_probe(const std::string& part, Probe probe);
  void remove(const std::string& part);

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
  std::map<std::string, Probe> probes_;
};

}  // namespace ps::server
