#include "ingestion/mock_broker.h"

#include <stdexcept>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace ps::ingestion {

struct MockBroker::Impl {
  rd_kafka_t* handle = nullptr;  // owns the mock cluster's threads
  rd_kafka_mock_cluster_t* cluster = nullptr;
  int brokers = 0;

  ~Impl() {
    if (cluster) rd_kafka_mock_cluster_destroy(cluster);
    if (handle) rd_kafka_destroy(handle);
  }
};

MockBroker::MockBroker(int brokers, const std::vector<TopicSpec>& topics) : impl_(std::make_unique<Impl>()) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the cluster: keep it quiet.
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
  impl_->handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!impl_->handle) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("mock broker: cannot create a librdkafka handle: ") + error);
  }
  impl_->cluster = rd_kafka_mock_cluster_new(impl_->handle, brokers);
  if (!impl_->cluster) throw std::runtime_error("mock broker: cannot start a cluster of " + std::to_string(brokers));
  impl_->brokers = brokers;
  for (const auto& topic : topics) {
    auto err = rd_kafka_mock_topic_create(impl_->cluster, topic.name.c_str(), topic.partitions,
                                          std::min(brokers, 3));
    if (err) {
      throw std::runtime_error("mock broker: cannot create topic " + topic.name + ": " + rd_kafka_err2str(err));
    }
  }
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(impl_->cluster);
}

MockBroker::~MockBroker() = default;

void MockBroker::set_down(bool down) {
  for (int id = 1; id <= impl_->brokers; ++id) {
    if (down) rd_kafka_mock_broker_set_down(impl_->cluster, id);
    else rd_kafka_mock_broker_set_up(impl_->cluster, id);
  }
}

void MockBroker::refuse_next_produce() {
  // 0 is the Produce request's API key in the Kafka protocol.
  constexpr int16_t kProduce = 0;
  rd_kafka_mock_push_request_errors(impl_->cluster, kProduce, 1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
}

TopicSpec parse_topic_spec(const std::string& text) {
  TopicSpec spec;
  auto colon = text.rfind(':');
  spec.name = text.substr(0, colon);
  if (colon != std::string::npos) {
    try {
      spec.partitions = std::stoi(text.substr(colon + 1));
    } catch (const std::exception&) {
      throw std::invalid_argument("bad topic \"" + text + "\": expected name:partitions");
    }
  }
  if (spec.name.empty() || spec.partitions < 1) {
    throw std::invalid_argument("bad topic \"" + text + "\": expected name:partitions");
  }
  return spec;
}

}  // namespace ps::ingestion
