// One team's events while another team's app misbehaves, in process
// (bench/noisy-neighbour runs it):
//
//   bench-noisy-neighbour BOOTSTRAP INPUT OUTPUT GOOD_APP NEIGHBOUR_APP SECONDS GOOD_RATE NEIGHBOUR_RATE
//                         [THREADS [PROTECTED]]
//     Team 1 runs GOOD_APP, team 2 NEIGHBOUR_APP, with the daemon's default
//     settings but for THREADS JS threads (0: the default) and, with
//     PROTECTED 0, without the team shares of the window and app health
//     (what the daemon did before them). For SECONDS, events of both teams
//     are produced at their rates (per second) into INPUT; the output is
//     read back and, for team 1's events, the latency from production to
//     the output is taken.
//     Prints "<team 1 events received> <seconds> <p50 ms> <p99 ms>".

#include <algorithm>
#include <atomic>
#include <iostream>
#include <thread>
#include <vector>

#include <librdkafka/rdkafkacpp.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bench/pipeline_options.h"
#include "ingestion/event_pipeline.h"
#include "ingestion/kafka_config.h"
#include "metrics/registry.h"
#include "runtime/app_runtime.h"
#include "runtime/engine.h"

using Clock = std::chrono::steady_clock;

namespace {

long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

std::unique_ptr<RdKafka::Conf> client_conf(const std::string& bootstrap) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  ps::ingestion::set_property(*conf, "bootstrap.servers", bootstrap);
  return conf;
}

// Produces both teams' events at their rates for `seconds`.
void produce(const std::string& bootstrap, const std::string& topic, int seconds, int good_rate, int neighbour_rate) {
  auto conf = client_conf(bootstrap);
  ps::ingestion::set_property(*conf, "linger.ms", "1");
  std::string error;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) throw std::runtime_error("producer: " + error);
  auto start = Clock::now();
  long long sent[2] = {0, 0};
  const int rates[2] = {good_rate, neighbour_rate};
  while (Clock::now() - start < std::chrono::seconds(seconds)) {
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    for (int team = 1; team <= 2; ++team) {
      while (sent[team - 1] < static_cast<long long>(elapsed * rates[team - 1])) {
        auto i = sent[team - 1]++;
        auto distinct = "p" + std::to_string(i % 100);
        auto value = nlohmann::json{{"event", "e"}, {"team_id", team}, {"distinct_id", distinct},
                                    {"properties", {{"sent_us", now_us()}}}}.dump();
        auto key = std::to_string(team) + ":" + distinct;
        producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, value.data(),
                          value.size(), key.data(), key.size(), 0, nullptr);
      }
    }
    producer->poll(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  producer->flush(10000);
}

int run(const std::string& bootstrap, const std::string& input, const std::string& output, const std::string& good,
        const std::string& neighbour, int seconds, int good_rate, int neighbour_rate, int threads, bool protect) {
  ps::runtime::Engine engine;
  ps::metrics::Registry metrics;
  auto options = ps::runtime::runtime_options(ps::config::Config{});
  if (threads > 0) options.threads = threads;
  options.health.enabled = protect;
  ps::runtime::AppRuntime runtime(options, nullptr, metrics);
  ps::config::AppConfig good_entry, neighbour_entry;
  good_entry.path = good;
  good_entry.teams = {1};
  good_entry.config = {{"greeting", "hi"}};
  neighbour_entry.path = neighbour;
  neighbour_entry.teams = {2};
  if (neighbour.find("hello") != std::string::npos) neighbour_entry.config = {{"greeting", "hi"}};
  runtime.load({good_entry, neighbour_entry});

  auto pipeline_options = ps::bench::pipeline_options(bootstrap, input, output);
  if (!protect) pipeline_options.max_in_flight_per_team = pipeline_options.max_in_flight;
  ps::ingestion::EventPipeline pipeline(pipeline_options, runtime.chain(), metrics);

  // The output, read from its start in a group of its own.
  auto conf = client_conf(bootstrap);
  ps::ingestion::set_property(*conf, "group.id", "bench-read-" + output);
  ps::ingestion::set_property(*conf, "auto.offset.reset", "earliest");
  // Read as soon as something arrives: the reader's own wait is not the daemon's latency.
  ps::ingestion::set_property(*conf, "fetch.wait.max.ms", "5");
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> reader(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!reader) throw std::runtime_error("consumer: " + error);
  reader->subscribe({output});
  // Both groups hold their partitions before anything is produced.
  while (pipeline.assigned_partitions() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  for (;;) {
    std::unique_ptr<RdKafka::Message> m(reader->consume(100));
    std::vector<RdKafka::TopicPartition*> assigned;
    reader->assignment(assigned);
    bool ready = !assigned.empty();
    RdKafka::TopicPartition::destroy(assigned);
    if (ready) break;
  }

  std::thread producer([&] { produce(bootstrap, input, seconds, good_rate, neighbour_rate); });
  std::vector<double> latencies_ms;
  auto start = Clock::now();
  auto deadline = start + std::chrono::seconds(seconds + 5);
  long long expected = static_cast<long long>(seconds) * good_rate;
  while (Clock::now() < deadline && static_cast<long long>(latencies_ms.size()) < expected) {
    std::unique_ptr<RdKafka::Message> m(reader->consume(100));
    if (m->err() != RdKafka::ERR_NO_ERROR || !m->key() || m->key()->rfind("1:", 0) != 0) continue;
    auto event = nlohmann::json::parse(std::string(static_cast<const char*>(m->payload()), m->len()), nullptr, false);
    if (!event.is_object()) continue;
    latencies_ms.push_back((now_us() - event["properties"]["sent_us"].get<long long>()) / 1000.0);
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  producer.join();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto at = [&](double q) {
    return latencies_ms.empty() ? 0.0 : latencies_ms[std::min(latencies_ms.size() - 1, static_cast<std::size_t>(q * latencies_ms.size()))];
  };
  std::cout << latencies_ms.size() << " " << std::min<double>(elapsed, seconds) << " " << at(0.5) << " " << at(0.99)
            << std::endl;
  reader->close();
  pipeline.stop(std::chrono::seconds(2));
  runtime.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  try {
    if (argc >= 9 && argc <= 11) {
      int threads = argc > 9 ? std::stoi(argv[9]) : 0;
      bool protect = argc > 10 ? std::stoi(argv[10]) != 0 : true;
      return run(argv[1], argv[2], argv[3], argv[4], argv[5], std::stoi(argv[6]), std::stoi(argv[7]), std::stoi(argv[8]),
                 threads, protect);
    }
  } catch (const std::exception& e) {
    std::cerr << "bench-noisy-neighbour: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: bench-noisy-neighbour BOOTSTRAP INPUT OUTPUT GOOD_APP NEIGHBOUR_APP SECONDS GOOD_RATE "
               "NEIGHBOUR_RATE [THREADS [PROTECTED]]\n";
  return 2;
}
