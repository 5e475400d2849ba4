#pragma once
// What the pipeline has consumed and not yet settled, per input partition.
// The rules live here, apart from Kafka so they can be tested alone:
//  - an offset may be committed only below the lowest unsettled one
//    (at-least-once: nothing is committed before its output is acknowledged);
//  - events of one key run one after another, in offset order, while events
//    of different keys (even in one partition) run side by side;
//  - a team may have at most `team_limit` events in the window: its later
//    events are parked (kept in memory, in order, outside the window) and
//    let in one by one as its earlier ones settle. A team whose apps are
//    slow fills its own share, not the window other teams' events need.
// A partition's state belongs to one assignment (its generation): settling
// work of an earlier assignment after a revoke changes nothing.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ingestion/message_parser.h"

namespace ps::ingestion {

// One consumed event on its way through the apps.
struct PendingEvent {
  int32_t partition = 0;
  int64_t offset = 0;
  int generation = 0;
  std::chrono::steady_clock::time_point consumed_at;
  std::string key;  // `<team_id>:<distinct_id>`, also the output key
  ParsedEvent event;
  // The message as consumed, for the dead-letter topic should its output be
  // refused, with the message's own key.
  std::shared_ptr<const std::string> source;
  std::string source_key;
};

struct CommitTarget {
  int32_t partition = 0;
  int64_t offset = 0;  // the next offset to read
};

// Parked events, for flow control and for the log.
struct ParkedSummary {
  std::size_t events = 0;
  std::size_t bytes = 0;
  long long largest_team = 0;  // the team with the most parked events
  std::size_t largest_team_events = 0;
};

class InFlight {
 public:
  explicit InFlight(std::size_t team_limit = std::numeric_limits<std::size_t>::max())
      : team_limit_(team_limit < 1 ? 1 : team_limit) {}

  // A fresh state for the partition (a new generation). Like revoke(), it
  // returns parked events that may run now if the partition was held.
  std::vector<PendingEvent> assign(int32_t partition);
  // Forgets the partition; its unsettled messages no longer count. Returns
  // the parked events of other partitions that may run now (the room the
  // partition's events held in their teams' shares is free).
  std::vector<PendingEvent> revoke(int32_t partition);
  std::size_t partitions() const;

  enum class Admission { run_now, waits_for_key, parked, not_assigned };
  // Records a consumed event (filling in its generation). It may run at
  // once unless an earlier event of its key is still running (then
  // key_done() hands it out), or its team has its share of the window
  // (then it is parked, and settle() hands it out).
  Admission admit(PendingEvent& event);
  // Records a consumed message that needs no app work (a dead letter); it
  // counts in the window but in no team's share. Returns its generation,
  // or nullopt when the partition is not ours.
  std::optional<int> track(int32_t partition, int64_t offset);
  // The apps are done with an event of `key` (its output is handed to the
  // producer, or it was dropped): the next event of that key, if one waits.
  std::optional<PendingEvent> key_done(int32_t partition, int generation, const std::string& key);
  // The message's output is acknowledged, or nothing is to be produced.
  // Returns a parked event of the same team that may run now, if any.
  std::optional<PendingEvent> settle(int32_t partition, int64_t offset, int generation);

  // Per partition, the offset up to which everything is settled, for those
  // that moved since the last call.
  std::vector<CommitTarget> take_commit_targets();

  // Messages in the window (parked events are not).
  std::size_t count() const;
  std::size_t parked_events() const;
  std::size_t parked_bytes() const;
  // With the team holding the most (for the log).
  ParkedSummary parked() const;
  // Waits until at most `limit` messages are in the window and at most
  // `parked_bytes` bytes are parked; false on timeout.
  bool wait_for_room(std::size_t limit, std::size_t parked_bytes, std::chrono::milliseconds timeout) const;
  // Waits until nothing is in the window or parked; false on timeout.
  bool wait_until_settled(std::chrono::milliseconds timeout) const;

 private:
  // A message without a team (a dead letter).
  static constexpr long long kNoTeam = std::numeric_limits<long long>::min();
  struct Unsettled {
    long long team = kNoTeam;
    bool parked = false;
  };
  struct Partition {
    int generation = 0;
    std::map<int64_t, Unsettled> unsettled;
    int64_t next = -1;       // one past the highest offset consumed
    int64_t committed = -1;  // the last offset handed out to commit
    // Keys with an event running; the queue holds the events waiting behind it.
    std::unordered_map<std::string, std::deque<PendingEvent>> running_keys;
  };
  struct Team {
    std::size_t in_window = 0;
    std::deque<PendingEvent> parked;  // in the order consumed
  };
  Partition* find(int32_t partition, int generation);
  // Drops the partition's unsettled messages from the counts and its parked
  // events from their teams' queues; adds what may run now to `runnable`.
  void forget(int32_t partition, Partition& state, std::vector<PendingEvent>& runnable);
  void record(Partition& state, int64_t offset, Unsettled entry);
  // Into the window: runs now, or waits behind its key (then nullopt).
  std::optional<PendingEvent> enter(Partition& state, PendingEvent event);
  // Parked events of `team_id` that fit in its share now, in order.
  void unpark(long long team_id, std::vector<PendingEvent>& runnable);
  static std::size_t bytes_of(const PendingEvent& event);

  const std::size_t team_limit_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<int32_t, Partition> partitions_;
  std::unordered_map<long long, Team> teams_;
  std::size_t count_ = 0;
  std::size_t parked_events_ = 0;
  std::size_t parked_bytes_ = 0;
  int generations_ = 0;
};

}  // namespace ps::ingestion
