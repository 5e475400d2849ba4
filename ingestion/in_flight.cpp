#include "ingestion/in_flight.h"

namespace ps::ingestion {

std::size_t InFlight::bytes_of(const PendingEvent& event) {
  return event.event.json.size() + (event.source ? event.source->size() : 0) + event.key.size();
}

void InFlight::forget(int32_t partition, Partition& state, std::vector<PendingEvent>& runnable) {
  std::vector<long long> touched;
  for (const auto& [offset, entry] : state.unsettled) {
    if (entry.parked) continue;  // taken out of its team's queue below
    --count_;
    if (entry.team == kNoTeam) continue;
    --teams_[entry.team].in_window;
    touched.push_back(entry.team);
  }
  for (auto& [team_id, team] : teams_) {
    auto before = team.parked.size();
    std::erase_if(team.parked, [&](const PendingEvent& e) {
      if (e.partition != partition) return false;
      parked_bytes_ -= bytes_of(e);
      return true;
    });
    if (team.parked.size() != before) {
      parked_events_ -= before - team.parked.size();
      touched.push_back(team_id);
    }
  }
  for (auto team_id : touched) unpark(team_id, runnable);
  std::erase_if(teams_, [](const auto& t) { return t.second.in_window == 0 && t.second.parked.empty(); });
}

std::vector<PendingEvent> InFlight::assign(int32_t partition) {
  std::lock_guard lock(mutex_);
  std::vector<PendingEvent> runnable;
  auto& state = partitions_[partition];
  forget(partition, state, runnable);
  state = Partition{};
  state.generation = ++generations_;
  changed_.notify_all();
  return runnable;
}

std::vector<PendingEvent> InFlight::revoke(int32_t partition) {
  std::lock_guard lock(mutex_);
  std::vector<PendingEvent> runnable;
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return runnable;
  forget(partition, it->second, runnable);
  partitions_.erase(it);
  changed_.notify_all();
  return runnable;
}

std::size_t InFlight::partitions() const {
  std::lock_guard lock(mutex_);
  return partitions_.size();
}

void InFlight::record(Partition& state, int64_t offset, Unsettled entry) {
  state.unsettled.emplace(offset, entry);
  state.next = std::max(state.next, offset + 1);
}

std::optional<PendingEvent> InFlight::enter(Partition& state, PendingEvent event) {
  auto [running, first] = state.running_keys.try_emplace(event.key);
  if (first) return event;
  running->second.push_back(std::move(event));
  return std::nullopt;
}

InFlight::Admission InFlight::admit(PendingEvent& event) {
  std::lock_guard lock(mutex_);
  auto it = partitions_.find(event.partition);
  if (it == partitions_.end()) return Admission::not_assigned;
  auto& state = it->second;
  event.generation = state.generation;
  auto team_id = event.event.team_id;
  auto& team = teams_[team_id];
  // Behind parked events of its team too, so the team's order holds.
  if (team.in_window >= team_limit_ || !team.parked.empty()) {
    record(state, event.offset, {team_id, true});
    ++parked_events_;
    parked_bytes_ += bytes_of(event);
    team.parked.push_back(std::move(event));
    return Admission::parked;
  }
  record(state, event.offset, {team_id, false});
  ++count_;
  ++team.in_window;
  auto [running, first] = state.running_keys.try_emplace(event.key);
  if (first) return Admission::run_now;
  running->second.push_back(std::move(event));
  return Admission::waits_for_key;
}

std::optional<int> InFlight::track(int32_t partition, int64_t offset) {
  std::lock_guard lock(mutex_);
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return std::nullopt;
  record(it->second, offset, {kNoTeam, false});
  ++count_;
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

void InFlight::unpark(long long team_id, std::vector<PendingEvent>& runnable) {
  auto found = teams_.find(team_id);
  if (found == teams_.end()) return;
  auto& team = found->second;
  while (team.in_window < team_limit_ && !team.parked.empty()) {
    auto event = std::move(team.parked.front());
    team.parked.pop_front();
    --parked_events_;
    parked_bytes_ -= bytes_of(event);
    auto* state = find(event.partition, event.generation);
    if (!state) continue;  // its partition was revoked (forget() removes those; kept as a guard)
    auto entry = state->unsettled.find(event.offset);
    if (entry == state->unsettled.end()) continue;
    entry->second.parked = false;
    ++count_;
    ++team.in_window;
    if (auto ready = enter(*state, std::move(event))) runnable.push_back(std::move(*ready));
  }
}

std::optional<PendingEvent> InFlight::settle(int32_t partition, int64_t offset, int generation) {
  std::lock_guard lock(mutex_);
  auto* state = find(partition, generation);
  if (!state) return std::nullopt;
  auto entry = state->unsettled.find(offset);
  // A parked event has not run: nothing of it can settle.
  if (entry == state->unsettled.end() || entry->second.parked) return std::nullopt;
  auto team_id = entry->second.team;
  state->unsettled.erase(entry);
  --count_;
  changed_.notify_all();
  if (team_id == kNoTeam) return std::nullopt;
  auto team = teams_.find(team_id);
  if (team == teams_.end()) return std::nullopt;
  --team->second.in_window;
  std::vector<PendingEvent> runnable;
  unpark(team_id, runnable);
  if (team->second.in_window == 0 && team->second.parked.empty()) teams_.erase(team);
  // One settle frees one place in the team's share: at most one event.
  if (runnable.empty()) return std::nullopt;
  return std::move(runnable.front());
}

std::vector<CommitTarget> InFlight::take_commit_targets() {
  std::lock_guard lock(mutex_);
  std::vector<CommitTarget> targets;
  for (auto& [partition, state] : partitions_) {
    int64_t target = state.unsettled.empty() ? state.next : state.unsettled.begin()->first;
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

std::size_t InFlight::parked_events() const {
  std::lock_guard lock(mutex_);
  return parked_events_;
}

std::size_t InFlight::parked_bytes() const {
  std::lock_guard lock(mutex_);
  return parked_bytes_;
}

ParkedSummary InFlight::parked() const {
  std::lock_guard lock(mutex_);
  ParkedSummary summary{parked_events_, parked_bytes_, 0, 0};
  for (const auto& [team_id, team] : teams_) {
    if (team.parked.size() > summary.largest_team_events) {
      summary.largest_team = team_id;
      summary.largest_team_events = team.parked.size();
    }
  }
  return summary;
}

bool InFlight::wait_for_room(std::size_t limit, std::size_t parked_bytes, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return count_ <= limit && parked_bytes_ <= parked_bytes; });
}

bool InFlight::wait_until_settled(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return count_ == 0 && parked_events_ == 0; });
}

}  // namespace ps::ingestion
