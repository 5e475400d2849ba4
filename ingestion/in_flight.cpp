#include "ingestion/in_flight.h"

namespace ps::ingestion {

void InFlight::assign(int32_t partition) {
  std::lock_guard lock(mutex_);
  auto& state = partitions_[partition];
  count_ -= state.unsettled.size();
  state = Partition{};
  state.generation = ++generations_;
  changed_.notify_all();
}

void InFlight::revoke(int32_t partition) {
  std::lock_guard lock(mutex_);
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;
  count_ -= it->second.unsettled.size();
  partitions_.erase(it);
  changed_.notify_all();
}

std::size_t InFlight::partitions() const {
  std::lock_guard lock(mutex_);
  return partitions_.size();
}

void InFlight::record(Partition& state, int64_t offset) {
  state.unsettled.insert(offset);
  state.next = std::max(state.next, offset + 1);
  ++count_;
}

InFlight::Admission InFlight::admit(PendingEvent& event) {
  std::lock_guard lock(mutex_);
  auto it = partitions_.find(event.partition);
  if (it == partitions_.end()) return Admission::not_assigned;
  auto& state = it->second;
  record(state, event.offset);
  event.generation = state.generation;
  auto [running, first] = state.running_keys.try_emplace(event.key);
  if (first) return Admission::run_now;
  running->second.push_back(std::move(event));
  return Admission::waits_for_key;
}

std::optional<int> InFlight::track(int32_t partition, int64_t offset) {
  std::lock_guard lock(mutex_);
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return std::nullopt;
  record(it->second, offset);
  return it->second.generation;
}

InFlight::Partition* InFlight::find(int32_t partition, int generation) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end() || it->second.generation != generation) return nullptr;
  return &it->second;
}

std::optional<PendingEvent> InFlight::key_done(int32_t partition, int generation, const std::string& key) {
  std::lock_guard lock(mutex_);
  auto* state = find(partition, generation);
  if (!state) return std::nullopt;
  auto running = state->running_keys.find(key);
  if (running == state->running_keys.end()) return std::nullopt;
  if (running->second.empty()) {
    state->running_keys.erase(running);
    return std::nullopt;
  }
  auto next = std::move(running->second.front());
  running->second.pop_front();
  return next;
}

void InFlight::settle(int32_t partition, int64_t offset, int generation) {
  std::lock_guard lock(mutex_);
  auto* state = find(partition, generation);
  if (!state || !state->unsettled.erase(offset)) return;
  --count_;
  changed_.notify_all();
}

std::vector<CommitTarget> InFlight::take_commit_targets() {
  std::lock_guard lock(mutex_);
  std::vector<CommitTarget> targets;
  for (auto& [partition, state] : partitions_) {
    int64_t target = state.unsettled.empty() ? state.next : *state.unsettled.begin();
    if (target > state.committed) {
      targets.push_back({partition, target});
      state.committed = target;
    }
  }
  return targets;
}

std::size_t InFlight::count() const {
  std::lock_guard lock(mutex_);
  return count_;
}

bool InFlight::wait_until_at_most(std::size_t limit, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return count_ <= limit; });
}

}  // namespace ps::ingestion
