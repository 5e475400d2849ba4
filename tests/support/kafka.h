#pragma once
// Kafka for tests: the test broker as a separate process, and plain
// librdkafka clients to produce and read messages.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ps::test {

// Runs test-kafka-broker with `brokers` brokers and topics ("name:partitions").
class KafkaBroker {
 public:
  KafkaBroker(int brokers, const std::vector<std::string>& topics);
  const std::string& bootstrap() const { return bootstrap_; }
  // Every broker down, or back up (the process stays).
  void set_down(bool down);
  // The next produce request, from any client, is refused for good.
  void refuse_next_produce();

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  std::string bootstrap_;
};

struct KafkaMessage {
  std::string key;
  std::string value;
  int partition = 0;
  long long offset = 0;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Produces each {key, value} to `topic` (an empty key: no key, a random
// partition; an empty value: a tombstone) and waits until all are acknowledged.
void produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<std::pair<std::string, std::string>>& messages);

// Reads `topic` from the beginning until `count` messages arrived or `timeout` passed.
std::vector<KafkaMessage> consume(const std::string& bootstrap, const std::string& topic, std::size_t count,
                                  std::chrono::milliseconds timeout);
// Reads `topic` from the beginning, handing each message to `take`, until
// `take` returns true (done) or `timeout` passes; returns whether it was done.
bool consume_until(const std::string& bootstrap, const std::string& topic,
                   const std::function<bool(const KafkaMessage&)>& take, std::chrono::milliseconds timeout);

}  // namespace ps::test
