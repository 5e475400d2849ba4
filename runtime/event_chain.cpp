#include "runtime/event_chain.h"

#include <atomic>
#include <limits>
#include <memory>

#include "json/edit.h"
#include "runtime/app_registry.h"

namespace ps::runtime {

namespace {
std::string mark(const std::string& event_json, const char* property, const std::string& label) {
  // The scanner does not recurse: any depth is safe here.
  json::ScanOptions unbounded{std::numeric_limits<std::size_t>::max()};
  auto marked = json::append_to_property_list(event_json, property, json::quote(label), unbounded);
  return marked ? std::move(*marked) : event_json;
}
}  // namespace

std::string mark_failed(const std::string& event_json, const std::string& label) {
  return mark(event_json, "$plugins_failed", label);
}

std::string mark_skipped(const std::string& event_json, const std::string& label) {
  return mark(event_json, "$plugins_skipped", label);
}

namespace {

// One event's walk along the chain; each step continues from the previous
// instance's completion.
struct Walk : std::enable_shared_from_this<Walk> {
  std::vector<std::shared_ptr<AppInstance>> chain;
  std::size_t next = 0;
  std::string event;
  int capture_hops = 0;
  ChainResult result;
  std::function<void(ChainResult)> done;

  void step() {
    if (next == chain.size()) {
      result.event = std::move(event);
      done(std::move(result));
      return;
    }
    auto& instance = chain[next++];
    instance->process_event(event, [self = shared_from_this(), instance](CallOutcome outcome) {
      if (outcome.ok()) {
        if (!outcome.value) {
          self->result.dropped_by = instance->label();
          self->done(std::move(self->result));
          return;
        }
        self->event = std::move(*outcome.value);
      } else if (outcome.failure == Failure::Skipped) {
        self->result.skipped.push_back(instance->label() + ": " + outcome.error);
        self->event = mark_skipped(self->event, instance->label());
      } else {
        self->result.failed.push_back(instance->label() + ": " + outcome.error);
        self->event = mark_failed(self->event, instance->label());
      }
      self->step();
    }, capture_hops);
  }
};

}  // namespace

void EventChain::process(long long team_id, std::string event_json, std::function<void(ChainResult)> done,
                         int capture_hops) const {
  auto walk = std::make_shared<Walk>();
  for (auto& instance : registry_.for_team(team_id)) {
    if (instance->processes_events()) walk->chain.push_back(std::move(instance));
  }
  walk->event = std::move(event_json);
  walk->capture_hops = capture_hops;
  walk->done = std::move(done);
  walk->step();
}

namespace {

// Runs `done` once `count` completions have come in (on any thread).
struct AllDone {
  std::atomic<std::size_t> left;
  std::function<void()> done;
  void one() {
    if (--left == 0) done();
  }
};

// The instances among `instances` whose app exports `hook`.
std::vector<std::shared_ptr<AppInstance>> with_hook(std::vector<std::shared_ptr<AppInstance>> instances,
                                                    const char* hook) {
  std::erase_if(instances, [hook](const auto& instance) { return !instance->exports().has(hook); });
  return instances;
}

std::shared_ptr<AllDone> all_done(std::size_t count, std::function<void()> done) {
  auto waiting = std::make_shared<AllDone>();
  waiting->left = count;
  waiting->done = std::move(done);
  return waiting;
}

}  // namespace

void EventChain::on_event(long long team_id, const std::string& event_json, int capture_hops,
                          std::function<void()> settled) const {
  auto listeners = with_hook(registry_.for_team(team_id), "onEvent");
  if (listeners.empty()) return settled();
  auto waiting = all_done(listeners.size(), std::move(settled));
  for (auto& instance : listeners) {
    instance->call("onEvent", {event_json}, [waiting](CallOutcome) { waiting->one(); }, capture_hops);
  }
}

void EventChain::export_event(long long team_id, const std::string& event_json, std::function<void()> durable) const {
  auto exporters = with_hook(registry_.for_team(team_id), "exportEvents");
  if (exporters.empty()) return durable();
  auto waiting = all_done(exporters.size(), std::move(durable));
  for (auto& instance : exporters) instance->export_event(event_json, [waiting] { waiting->one(); });
}

void EventChain::flush_exports() const {
  for (const auto& instance : with_hook(registry_.all(), "exportEvents")) instance->flush_exports();
}

std::future<ChainResult> EventChain::process(long long team_id, std::string event_json) const {
  auto promise = std::make_shared<std::promise<ChainResult>>();
  auto future = promise->get_future();
  process(team_id, std::move(event_json), [promise](ChainResult r) { promise->set_value(std::move(r)); });
  return future;
}

}  // namespace ps::runtime
