#pragma once
// Runs an event through its team's app instances' processEvent, in order:
// null/undefined drops the event and stops the chain; an app that throws or
// breaks a limit leaves the event as that app received it and is recorded in
// properties.$plugins_failed; an app its health has sidelined (AppHealth) is
// passed by and recorded in $plugins_skipped; team_id cannot be changed.
// Takes and returns event JSON text.

#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

namespace ps::runtime {

class AppRegistry;

struct ChainResult {
  std::optional<std::string> event;  // nullopt: dropped
  std::string dropped_by;            // the instance label that dropped it
  std::vector<std::string> failed;   // "label: error" for each failed app
  std::vector<std::string> skipped;  // "label: why" for each app passed by
};

class EventChain {
 public:
  explicit EventChain(const AppRegistry& registry) : registry_(registry) {}

  // `done` runs on a runtime thread (or at once when the team has no apps).
  // `capture_hops`: how many posthog.capture calls in a row produced the
  // event (0: none); captures in its apps' calls count from there.
  void process(long long team_id, std::string event_json, std::function<void(ChainResult)> done,
               int capture_hops = 0) const;
  std::future<ChainResult> process(long long team_id, std::string event_json) const;
  // Hands the final event to the onEvent hook of each of the team's
  // instances that has one; `settled` runs (on any thread) once every one
  // of those calls has settled or failed (failures are counted in the
  // app's metrics and logged), at once when there are none.
  void on_event(long long team_id, const std::string& event_json, int capture_hops,
                std::function<void()> settled) const;
  // Hands the final event to the export buffer of each of the team's
  // instances that exports exportEvents; `durable` runs (on any thread) once
  // every one of them has stored it, at once when none does.
  void export_event(long long team_id, const std::string& event_json, std::function<void()> durable) const;
  // Every instance stores what its export buffer holds now.
  void flush_exports() const;

 private:
  const AppRegistry& registry_;
};

// The event with `label` appended to properties.$plugins_failed.
std::string mark_failed(const std::string& event_json, const std::string& label);
// The event with `label` appended to properties.$plugins_skipped.
std::string mark_skipped(const std::string& event_json, const std::string& label);

}  // namespace ps::runtime
