#include "ingestion/sample_events.h"

#include <librdkafka/rdkafkacpp.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "base/periodic.h"
#include "ingestion/kafka_config.h"

namespace ps::ingestion {

struct SampleEvents::Impl {
  std::unique_ptr<RdKafka::Producer> producer;
  std::string topic;
  long long sent = 0;
  std::unique_ptr<base::Periodic> periodic;  // last: stops first

  void send() {
    static constexpr const char* kPeople[] = {"alice", "bob", "carol"};
    static constexpr const char* kEvents[] = {"$pageview", "signed_up", "$pageview", "clicked"};
    const char* person = kPeople[sent % 3];
    long long team = sent % 5 == 4 ? 2 : 1;
    nlohmann::json event = {{"event", kEvents[sent % 4]},
                            {"team_id", team},
                            {"distinct_id", person},
                            {"properties", {{"sample", sent}}}};
    auto value = event.dump();
    auto key = std::to_string(team) + ":" + person;
    auto err = producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                 value.data(), value.size(), key.data(), key.size(), 0, nullptr);
    if (err) spdlog::warn("sample events: {}", RdKafka::err2str(err));
    producer->poll(0);
    ++sent;
  }
};

SampleEvents::SampleEvents(const std::string& brokers, const std::string& topic, int per_second)
    : impl_(std::make_unique<Impl>()) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  set_property(*conf, "bootstrap.servers", brokers);
  std::string error;
  impl_->producer.reset(RdKafka::Producer::create(conf.get(), error));
  if (!impl_->producer) throw std::runtime_error("sample events: " + error);
  impl_->topic = topic;
  impl_->periodic = std::make_unique<base::Periodic>(std::chrono::milliseconds(1000 / per_second),
                                                     [impl = impl_.get()] { impl->send(); });
  spdlog::info("sample events: producing {} per second into {}", per_second, topic);
}

SampleEvents::~SampleEvents() {
  impl_->periodic.reset();
  impl_->producer->flush(2000);
}

}  // namespace ps::ingestion
