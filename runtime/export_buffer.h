#pragma once
// exportEvents' buffer for one app instance: the team's processed events
// join it in ingestion order, and a batch is due once it holds
// exportEventsBufferBytes of them or its first event has waited
// exportEventsBufferSeconds (the app's own config keys, as the reference
// read them). Each event carries a callback to run once the batch holding
// it is durable. Not thread-safe: it lives on its instance's thread.

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ps::runtime {

struct ExportSettings {
  std::size_t max_bytes = 1u << 20;
  std::chrono::milliseconds max_age{10000};
  std::set<std::string> ignored;  // event names not exported

  // From the app's config: exportEventsBufferBytes (1 B to 100 MiB, default
  // 1 MiB), exportEventsBufferSeconds (1 to 600, default 10) and
  // exportEventsToIgnore (a comma-separated list). Values out of range are
  // clamped and unreadable ones fall back to the default, as the reference did.
  static ExportSettings from_config(const nlohmann::json& config);
};

struct ExportBatch {
  std::vector<std::string> events;  // each event's JSON, in the order added
  std::vector<std::function<void()>> durable;
  std::chrono::steady_clock::time_point first_added;

  // The events as one JSON array: exportEvents' first argument.
  std::string payload() const;
  std::size_t bytes() const;
};

class ExportBuffer {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ExportBuffer(ExportSettings settings) : settings_(std::move(settings)) {}

  // Whether the app's exportEventsToIgnore names the event.
  bool ignores(const std::string& name) const { return settings_.ignored.count(name) > 0; }
  void add(std::string event_json, std::function<void()> durable, Clock::time_point now = Clock::now());
  bool full() const { return bytes_ >= settings_.max_bytes; }
  bool empty() const { return batch_.events.empty(); }
  std::size_t bytes() const { return bytes_; }
  std::size_t events() const { return batch_.events.size(); }
  // When the batch under way is due by age (valid unless empty()).
  Clock::time_point due_at() const { return batch_.first_added + settings_.max_age; }
  const ExportSettings& settings() const { return settings_; }
  // The batch under way; the buffer starts a new one.
  ExportBatch take();

 private:
  ExportSettings settings_;
  ExportBatch batch_;
  std::size_t bytes_ = 0;
};

}  // namespace ps::runtime
