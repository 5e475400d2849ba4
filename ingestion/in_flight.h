#pragma once
// What the pipeline has consumed and not yet settled, per input partition.
// Two rules live here, apart from Kafka so they can be tested alone:
//  - an offset may be committed only below the lowest unsettled one
//    (at-least-once: nothing is committed before its output is acknowledged);
//  - events of one key run one after another, in offset order, while events
//    of different keys (even in one partition) run side by side.
// A partition's state belongs to one assignment (its generation): settling
// work of an earlier assignment after a revoke changes nothing.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
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

class InFlight {
 public:
  // A fresh state for the partition (a new generation).
  void assign(int32_t partition);
  // Forgets the partition; its unsettled messages no longer count.
  void revoke(int32_t partition);
  std::size_t partitions() const;

  enum class Admission { run_now, waits_for_key, not_assigned };
  // Records a consumed event (filling in its generation). It may run at
  // once unless an earlier event of its key is still running; then it is
  // kept and handed out by key_done().
  Admission admit(PendingEvent& event);
  // Records a consumed message that needs no app work (a dead letter).
  // Returns its generation, or nullopt when the partition is not ours.
  std::optional<int> track(int32_t partition, int64_t offset);
  // The apps are done with an event of `key` (its output is handed to the
  // producer, or it was dropped): the next event of that key, if one waits.
  std::optional<PendingEvent> key_done(int32_t partition, int generation, const std::string& key);
  // The message's output is acknowledged, or nothing is to be produced.
  void settle(int32_t partition, int64_t offset, int generation);

  // Per partition, the offset up to which everything is settled, for those
  // that moved since the last call.
  std::vector<CommitTarget> take_commit_targets();

  std::size_t count() const;
  // Waits until at most `limit` messages are in flight; false on timeout.
  bool wait_until_at_most(std::size_t limit, std::chrono::milliseconds timeout) const;

 private:
  struct Partition {
    int generation = 0;
    std::set<int64_t> unsettled;
    int64_t next = -1;       // one past the highest offset consumed
    int64_t committed = -1;  // the last offset handed out to commit
    // Keys with an event running; the queue holds the events waiting behind it.
    std::unordered_map<std::string, std::deque<PendingEvent>> running_keys;
  };
  Partition* find(int32_t partition, int generation);
  void record(Partition& state, int64_t offset);

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<int32_t, Partition> partitions_;
  std::size_t count_ = 0;
  int generations_ = 0;
};

}  // namespace ps::ingestion
