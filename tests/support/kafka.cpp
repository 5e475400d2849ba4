#include "tests/support/kafka.h"

#include <signal.h>

#include <atomic>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <librdkafka/rdkafkacpp.h>

namespace ps::test {

KafkaBroker::KafkaBroker(int brokers, const std::vector<std::string>& topics) {
  auto file = (dir_.path() / "bootstrap").string();
  std::vector<std::string> argv = {PS_KAFKA_BROKER_BINARY, "--brokers", std::to_string(brokers), "--bootstrap-file", file};
  for (const auto& topic : topics) {
    argv.push_back("--topic");
    argv.push_back(topic);
  }
  process_ = std::make_unique<Process>(argv);
  for (int i = 0; i < 200 && bootstrap_.empty(); ++i) {
    std::ifstream in(file);
    std::getline(in, bootstrap_);
    if (bootstrap_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  if (bootstrap_.empty()) throw std::runtime_error("test-kafka-broker did not start:\n" + process_->output());
}

void KafkaBroker::set_down(bool down) { process_->signal(down ? SIGUSR1 : SIGUSR2); }

void KafkaBroker::refuse_next_produce() { process_->signal(SIGHUP); }

namespace {
std::unique_ptr<RdKafka::Conf> client_conf(const std::string& bootstrap) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  conf->set("bootstrap.servers", bootstrap, error);
  conf->set("log_level", "3", error);
  return conf;
}
}  // namespace

void produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<std::pair<std::string, std::string>>& messages) {
  auto conf = client_conf(bootstrap);
  std::string error;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) throw std::runtime_error("producer: " + error);
  for (const auto& [key, value] : messages) {
    for (;;) {
      auto err = producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                   // An empty value means none: a tombstone.
                                   value.empty() ? nullptr : const_cast<char*>(value.data()), value.size(),
                                   // An empty key means none: the message goes to a random partition.
                                   key.empty() ? nullptr : key.data(), key.size(), 0, nullptr);
      if (err == RdKafka::ERR__QUEUE_FULL) {
        producer->poll(10);
        continue;
      }
      if (err) throw std::runtime_error("produce: " + RdKafka::err2str(err));
      break;
    }
  }
  if (producer->flush(30000) != RdKafka::ERR_NO_ERROR) throw std::runtime_error("produce: not acknowledged in 30 s");
}

bool consume_until(const std::string& bootstrap, const std::string& topic,
                   const std::function<bool(const KafkaMessage&)>& take, std::chrono::milliseconds timeout) {
  static std::atomic<int> readers{0};
  auto conf = client_conf(bootstrap);
  std::string error;
  // A group of its own each time: reads from the beginning, shares nothing.
  conf->set("group.id", "test-reader-" + std::to_string(::getpid()) + "-" + std::to_string(readers++), error);
  conf->set("auto.offset.reset", "earliest", error);
  conf->set("enable.auto.commit", "false", error);
  conf->set("session.timeout.ms", "6000", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) throw std::runtime_error("consumer: " + error);
  consumer->subscribe({topic});
  bool done = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> msg(consumer->consume(100));
    if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) continue;
    if (msg->err()) throw std::runtime_error("consume: " + msg->errstr());
    KafkaMessage m;
    if (msg->key()) m.key = *msg->key();
    m.value.assign(static_cast<const char*>(msg->payload()), msg->len());
    m.partition = msg->partition();
    m.offset = msg->offset();
    if (auto* headers = msg->headers()) {
      for (const auto& h : headers->get_all()) {
        m.headers.emplace_back(h.key(), std::string(static_cast<const char*>(h.value()), h.value_size()));
      }
    }
    done = take(m);
  }
  consumer->close();
  return done;
}

std::vector<KafkaMessage> consume(const std::string& bootstrap, const std::string& topic, std::size_t count,
                                  std::chrono::milliseconds timeout) {
  std::vector<KafkaMessage> out;
  consume_until(
      bootstrap, topic,
      [&](const KafkaMessage& m) {
        out.push_back(m);
        return out.size() >= count;
      },
      timeout);
  return out;
}

}  // namespace ps::test
