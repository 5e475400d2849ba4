// plugin-server's ingestion measured end to end against a Kafka broker
// (bench/ingestion runs it beside the Node.js pipelines):
//
//   bench-ingestion fill BOOTSTRAP TOPIC EVENT_FILE COUNT
//     Pre-fills TOPIC with COUNT copies of the event, each with its own uuid
//     and one of 1,000 distinct_ids, keyed by `<team_id>:<distinct_id>`.
//   bench-ingestion run BOOTSTRAP INPUT OUTPUT APP_DIR APPS COUNT
//     Consumes INPUT (from the start, in a fresh group) through a chain of
//     APPS instances of the app for team 1 into OUTPUT. Prints
//     "<events> <seconds> <cpu seconds>", timed from the first message
//     consumed to the last output acknowledged.

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <librdkafka/rdkafkacpp.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bench/cpu_time.h"
#include "bench/pipeline_options.h"
#include "ingestion/event_pipeline.h"
#include "ingestion/kafka_config.h"
#include "metrics/registry.h"
#include "runtime/app_runtime.h"
#include "runtime/engine.h"

using Clock = std::chrono::steady_clock;
using ps::bench::cpu_seconds;

namespace {

int fill(const std::string& bootstrap, const std::string& topic, const std::string& event_file, int count) {
  std::ifstream in(event_file);
  std::stringstream text;
  text << in.rdbuf();
  auto event = nlohmann::json::parse(text.str());
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  ps::ingestion::set_property(*conf, "bootstrap.servers", bootstrap);
  ps::ingestion::set_property(*conf, "linger.ms", "20");
  std::string error;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) throw std::runtime_error("producer: " + error);
  for (int i = 0; i < count; ++i) {
    auto distinct_id = "user-" + std::to_string(i % 1000);
    event["distinct_id"] = distinct_id;
    event["uuid"] = "0186a2e4-0000-7000-8000-" + std::to_string(100000000000LL + i);
    auto value = event.dump();
    auto key = std::to_string(event["team_id"].get<long long>()) + ":" + distinct_id;
    for (;;) {
      auto err = producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, value.data(),
                                   value.size(), key.data(), key.size(), 0, nullptr);
      if (!err) break;
      if (err != RdKafka::ERR__QUEUE_FULL) throw std::runtime_error("produce: " + RdKafka::err2str(err));
      producer->poll(10);
    }
  }
  return producer->flush(60000) == RdKafka::ERR_NO_ERROR ? 0 : 1;
}

double counter(ps::metrics::Registry& metrics, const char* name) { return metrics.counter(name, "").value(); }

int run(const std::string& bootstrap, const std::string& input, const std::string& output, const std::string& app,
        int apps, int count) {
  ps::runtime::Engine engine;
  ps::metrics::Registry metrics;
  ps::runtime::RuntimeOptions options;
  ps::runtime::AppRuntime runtime(options, nullptr, metrics);
  std::vector<ps::config::AppConfig> entries;
  for (int i = 0; i < apps; ++i) {
    ps::config::AppConfig entry;
    entry.path = app;
    entry.teams = {1};
    entry.order = i;
    entry.config = {{"greeting", "hi " + std::to_string(i)}};
    entries.push_back(entry);
  }
  runtime.load(entries);

  ps::ingestion::EventPipeline pipeline(ps::bench::pipeline_options(bootstrap, input, output), runtime.chain(),
                                        metrics);
  // Polled every millisecond: finer would cost the pipeline CPU, coarser precision.
  while (counter(metrics, "plugin_server_ingestion_consumed_total") < 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto start = Clock::now();
  double cpu_start = cpu_seconds();
  while (counter(metrics, "plugin_server_ingestion_produced_total") < count) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  double cpu = cpu_seconds() - cpu_start;
  std::cout << count << " " << seconds << " " << cpu << std::endl;
  pipeline.stop(std::chrono::seconds(5));
  runtime.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "fill" && argc == 6) return fill(argv[2], argv[3], argv[4], std::stoi(argv[5]));
    if (mode == "run" && argc == 8) return run(argv[2], argv[3], argv[4], argv[5], std::stoi(argv[6]), std::stoi(argv[7]));
  } catch (const std::exception& e) {
    std::cerr << "bench-ingestion: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: bench-ingestion fill BOOTSTRAP TOPIC EVENT_FILE COUNT\n"
               "       bench-ingestion run BOOTSTRAP INPUT OUTPUT APP_DIR APPS COUNT\n";
  return 2;
}
