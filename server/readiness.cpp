#include "server/readiness.h"

#include <nlohmann/json.hpp>

namespace ps::server {

void Readiness::set(const std::string& part, bool ready, const std::string& detail) {
  std::lock_guard lock(mutex_);
  parts_[part] = State{ready, detail};
}

void Readiness::set_probe(const std::string& part, Probe probe) {
  std::lock_guard lock(mutex_);
  probes_[part] = std::move(probe);
}

void Readiness::remove(const std::string& part) {
  std::lock_guard lock(mutex_);
  parts_.erase(part);
  probes_.erase(part);
}

Readiness::Report Readiness::report() const {
  std::lock_guard lock(mutex_);
  bool all = !parts_.empty() || !probes_.empty();
  auto parts = nlohmann::json::object();
  for (const auto& [name, state] : parts_) {
    all = all && state.ready;
    parts[name] = {{"ready", state.ready}, {"detail", state.detail}};
  }
  for (const auto& [name, probe] : probes_) {
    std::string detail;
    bool ready = probe(&detail);
    all = all && ready;
    parts[name] = {{"ready", ready}, {"detail", detail}};
  }
  nlohmann::json body = {{"ready", all}, {"parts", parts}};
  return {all, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace ps::server
