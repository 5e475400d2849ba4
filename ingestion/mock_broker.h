#pragma once
// A Kafka-protocol broker cluster in this process, on librdkafka's mock
// cluster: real brokers on 127.0.0.1 that real clients connect to over TCP.
// It keeps nothing on disk and each partition keeps only its last few MiB:
// for development (kafka.brokers = "embedded") and tests, never production.

#include <memory>
#include <string>
#include <vector>

namespace ps::ingestion {

struct TopicSpec {
  std::string name;
  int partitions = 1;
};

class MockBroker {
 public:
  // Starts `brokers` brokers and creates `topics`; throws std::runtime_error
  // with librdkafka's reason when it cannot.
  MockBroker(int brokers, const std::vector<TopicSpec>& topics);
  ~MockBroker();
  MockBroker(const MockBroker&) = delete;
  MockBroker& operator=(const MockBroker&) = delete;

  // "127.0.0.1:port,..." for clients' bootstrap.servers.
  const std::string& bootstrap() const { return bootstrap_; }
  // Takes every broker down, or brings them back (outage tests).
  void set_down(bool down);
  // The next produce request, from any client, is refused as not authorized
  // (a permanent error), as a broker's ACLs would.
  void refuse_next_produce();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bootstrap_;
};

// Parses "name:partitions" (partitions default to 1).
TopicSpec parse_topic_spec(const std::string& text);

}  // namespace ps::ingestion
