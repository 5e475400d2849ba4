// The test broker itself: a separate process that real Kafka clients use over TCP.

#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "ingestion/mock_broker.h"
#include "tests/support/kafka.h"

using namespace std::chrono_literals;

TEST_CASE("kafka broker: messages produced to it are read back by a consumer group", "[kafka]") {
  ps::test::KafkaBroker broker(3, {"events:4"});
  CHECK(broker.bootstrap().find("127.0.0.1:") == 0);
  std::vector<std::pair<std::string, std::string>> messages;
  for (int i = 0; i < 200; ++i) messages.emplace_back("key-" + std::to_string(i % 7), "value-" + std::to_string(i));
  ps::test::produce(broker.bootstrap(), "events", messages);
  auto got = ps::test::consume(broker.bootstrap(), "events", 200, 30s);
  REQUIRE(got.size() == 200);
  std::set<int> partitions;
  std::map<std::string, int> partition_of_key;
  std::set<std::string> values;
  for (const auto& m : got) {
    partitions.insert(m.partition);
    values.insert(m.value);
    // A key always lands in one partition.
    auto [it, inserted] = partition_of_key.emplace(m.key, m.partition);
    CHECK(it->second == m.partition);
  }
  CHECK(values.size() == 200);
  CHECK(partitions.size() > 1);
}

TEST_CASE("kafka broker: topic specs are parsed and checked", "[kafka]") {
  auto spec = ps::ingestion::parse_topic_spec("events_plugin_ingestion:8");
  CHECK(spec.name == "events_plugin_ingestion");
  CHECK(spec.partitions == 8);
  CHECK(ps::ingestion::parse_topic_spec("plain").partitions == 1);
  CHECK_THROWS_AS(ps::ingestion::parse_topic_spec("x:zero"), std::invalid_argument);
  CHECK_THROWS_AS(ps::ingestion::parse_topic_spec(":3"), std::invalid_argument);
}
