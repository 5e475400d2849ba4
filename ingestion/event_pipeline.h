#pragma once
// The ingestion loop: a consumer in a consumer group reads the input topic;
// each event goes through its team's apps (in order within its partition,
// partitions in parallel); the result goes to the output topic keyed by
// `<team_id>:<distinct_id>`; unusable messages go to the dead-letter topic
// with the reason in headers. An input offset is committed only once every
// message up to it is settled: produced and acknowledged, dead-lettered and
// acknowledged, or dropped by an app (at-least-once).

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace ps::metrics {
class Registry;
}
namespace ps::runtime {
class EventChain;
}

namespace ps::ingestion {

struct PipelineOptions {
  std::string brokers;  // bootstrap servers
  std::string group_id;
  std::string input_topic;
  std::string output_topic;
  std::string dlq_topic;
  // Larger input messages, and outputs that grew past it, are dead letters.
  std::size_t max_message_bytes = 1u << 20;
  std::size_t max_depth = 512;  // deeper input messages are dead letters
  std::size_t max_in_flight = 10000;  // consumed but not settled; over it, fetching pauses
  // A team's share of max_in_flight; its events beyond it are parked.
  std::size_t max_in_flight_per_team = 5000;
  // Parked events' bytes; over it, fetching pauses as at max_in_flight.
  std::size_t max_parked_bytes = 128u << 20;
  int session_timeout_ms = 10000;
  std::chrono::milliseconds commit_interval{200};
};

class EventPipeline {
 public:
  EventPipeline(PipelineOptions options, const runtime::EventChain& chain, metrics::Registry& metrics);
  // stop() with no grace period.
  ~EventPipeline();
  EventPipeline(const EventPipeline&) = delete;
  EventPipeline& operator=(const EventPipeline&) = delete;

  // Stops fetching, lets in-flight events settle for up to `grace`, commits
  // what settled, and leaves the group. Idempotent.
  void stop(std::chrono::milliseconds grace);

  // For /_ready: false with a reason while the brokers cannot be reached.
  bool connected(std::string* reason) const;
  // Input partitions this consumer holds now.
  std::size_t assigned_partitions() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared: the chain's late answers check it is still there
};

}  // namespace ps::ingestion
