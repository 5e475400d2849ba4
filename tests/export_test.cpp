// exportEvents, durable: the buffer's rules alone, then batches through a
// real pipeline (test broker) into the Postgres job queue and the app.

#include <catch2/catch.hpp>

#include <cstdio>
#include <thread>

#include "ingestion/event_pipeline.h"
#include "runtime/export_buffer.h"
#include "tests/support/kafka.h"
#include "tests/support/runtime_harness.h"

using ps::runtime::ExportBuffer;
using ps::runtime::ExportSettings;
using ps::test::RuntimeHarness;
using json = nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("export buffer: settings as the reference read them from the app's config", "[runtime][export]") {
  auto defaults = ExportSettings::from_config(json::object());
  CHECK(defaults.max_bytes == 1u << 20);
  CHECK(defaults.max_age == 10s);
  CHECK(defaults.ignored.empty());
  auto s = ExportSettings::from_config({{"exportEventsBufferBytes", "2048"},
                                        {"exportEventsBufferSeconds", "3 seconds"},
                                        {"exportEventsToIgnore", " $feature_flag_called, ,pageview ,"}});
  CHECK(s.max_bytes == 2048);
  CHECK(s.max_age == 3s);
  CHECK(s.ignored == std::set<std::string>{"$feature_flag_called", "pageview"});
  auto clamped = ExportSettings::from_config({{"exportEventsBufferBytes", "999999999999"},
                                              {"exportEventsBufferSeconds", 100000}});
  CHECK(clamped.max_bytes == 100u << 20);
  CHECK(clamped.max_age == 600s);
  auto unreadable = ExportSettings::from_config({{"exportEventsBufferBytes", "lots"},
                                                 {"exportEventsBufferSeconds", "-5"},
                                                 {"exportEventsToIgnore", 7}});
  CHECK(unreadable.max_bytes == 1u << 20);
  CHECK(unreadable.max_age == 10s);
  CHECK(unreadable.ignored.empty());
}

TEST_CASE("export buffer: full at its bytes, due by the age of its first event, taken in order", "[runtime][export]") {
  ExportSettings settings;
  settings.max_bytes = 10;
  settings.max_age = 5s;
  settings.ignored = {"skip"};
  ExportBuffer buffer(settings);
  CHECK(buffer.empty());
  CHECK(buffer.ignores("skip"));
  CHECK_FALSE(buffer.ignores("keep"));
  int stored = 0;
  auto t0 = ExportBuffer::Clock::now();
  buffer.add(R"({"a":1})", [&] { ++stored; }, t0);
  CHECK_FALSE(buffer.full());
  buffer.add(R"({"b":2})", [&] { ++stored; }, t0 + 1s);
  CHECK(buffer.full());
  CHECK(buffer.bytes() == 14);
  CHECK(buffer.due_at() == t0 + 5s);
  auto batch = buffer.take();
  CHECK(batch.payload() == R"([{"a":1},{"b":2}])");
  CHECK(batch.bytes() == 14);
  CHECK(buffer.empty());
  CHECK(buffer.bytes() == 0);
  for (auto& durable : batch.durable) durable();
  CHECK(stored == 2);
}

namespace {

// A runtime with the job queue, a test broker and a pipeline over it; the
// app under test is installed for team 7.
struct ExportRig {
  ps::test::KafkaBroker broker{1, {"in:1", "out:1", "dlq:1"}};
  std::unique_ptr<RuntimeHarness> h;
  std::unique_ptr<ps::ingestion::EventPipeline> pipeline;

  ExportRig(const std::string& index_js, json config, ps::scheduler::EnqueuerOptions enqueuer = {},
            std::size_t max_in_flight = 10000) {
    h = RuntimeHarness::with_jobs(RuntimeHarness::fast_options(), enqueuer);
    h->queue_options().retry_base = 50ms;
    h->queue_options().retry_max = 200ms;
    h->queue_options().poll_interval = 200ms;
    h->load({RuntimeHarness::entry(h->write_app("exporter", {{"index.js", index_js}}), {7}, 0, std::move(config))});
    ps::ingestion::PipelineOptions o;
    o.brokers = broker.bootstrap();
    o.group_id = "exports";
    o.input_topic = "in";
    o.output_topic = "out";
    o.dlq_topic = "dlq";
    o.max_in_flight = max_in_flight;
    pipeline = std::make_unique<ps::ingestion::EventPipeline>(o, h->runtime().chain(), h->metrics());
  }
  ~ExportRig() { pipeline.reset(); }

  // Events of one person, numbered from `first`; all the same length. Those
  // in `skipped` are named "x", the others "e".
  void produce(int first, int count, const std::set<int>& skipped = {}) {
    std::vector<std::pair<std::string, std::string>> messages;
    for (int i = first; i < first + count; ++i) {
      char number[8];
      std::snprintf(number, sizeof number, "%03d", i);
      messages.emplace_back("", std::string(R"({"event":")") + (skipped.count(i) ? "x" : "e") +
                                    R"(","distinct_id":"p","team_id":7,"properties":{"i":")" + number + "\"}}");
    }
    ps::test::produce(broker.bootstrap(), "in", messages);
  }

  double metric(const std::string& line_start) {
    auto text = "\n" + h->metrics().render();
    auto at = text.find("\n" + line_start + " ");
    return at == std::string::npos ? 0 : std::stod(text.substr(at + line_start.size() + 2));
  }
};

// Each batch lands in storage as the list of its events' numbers, under its first one.
const char* kRecordingExporter = R"(
  export async function exportEvents(events, { storage }) {
    await storage.set('batch:' + events[0].properties.i, events.map((e) => e.properties.i))
  })";

}  // namespace

TEST_CASE("exportEvents: batches by size, then by time, in ingestion order, skipping exportEventsToIgnore",
          "[runtime][export][kafka]") {
  // Every event is 68 bytes: 160 bytes fill a batch at its third event.
  ExportRig rig(kRecordingExporter, {{"exportEventsBufferBytes", "160"},
                                     {"exportEventsBufferSeconds", "1"},
                                     {"exportEventsToIgnore", "x"}});
  rig.produce(0, 11, {4});
  auto& h = *rig.h;
  h.wait_for("SELECT count(*) FROM app_storage WHERE key LIKE 'batch:%'", "4");
  auto batches = json::parse(h.query(
      "SELECT json_agg(value ORDER BY key) FROM app_storage WHERE key LIKE 'batch:%'"));
  CHECK(batches == json::parse(R"([["000","001","002"],["003","005","006"],["007","008","009"],["010"]])"));
  CHECK(rig.metric(R"(plugin_server_export_events_total{app="exporter",result="ignored"})") == 1);
  CHECK(rig.metric(R"(plugin_server_export_events_total{app="exporter",result="stored"})") == 10);
  CHECK(rig.metric(R"(plugin_server_export_batches_total{app="exporter",result="stored"})") == 4);
  h.wait_for("SELECT count(*) FROM jobs WHERE kind = 'export'", "0");
  CHECK(rig.metric(R"(plugin_server_export_batches_total{app="exporter",result="exported"})") == 4);
  CHECK(rig.metric(R"(plugin_server_export_events_total{app="exporter",result="exported"})") == 10);
}

TEST_CASE("exportEvents: the events' offsets wait for their batch to be stored, which shutdown does",
          "[runtime][export][kafka]") {
  // A long buffer, and a destination that never answers: the batch stays
  // in the queue, but it is stored, and that is what the offsets wait for.
  ExportRig rig(R"(
    export async function exportEvents(events) { throw new Error('destination down') }
  )",
                {{"exportEventsBufferSeconds", "600"}});
  rig.produce(0, 5);
  CHECK(ps::test::consume(rig.broker.bootstrap(), "out", 5, 20s).size() == 5);
  // Produced and acknowledged, yet unsettled: the export buffer holds them.
  CHECK(rig.metric("plugin_server_ingestion_in_flight") == 5);
  CHECK(rig.h->query("SELECT count(*) FROM jobs WHERE kind = 'export'") == "0");
  rig.pipeline->stop(10s);
  CHECK(rig.metric("plugin_server_ingestion_in_flight") == 0);
  CHECK(rig.h->query("SELECT jsonb_array_length(payload) FROM jobs WHERE kind = 'export'") == "5");
}

TEST_CASE("exportEvents: a batch that keeps failing is retried with the queue's backoff, then stays failed",
          "[runtime][export][kafka]") {
  ps::scheduler::EnqueuerOptions enqueuer;
  enqueuer.max_attempts = 3;
  ExportRig rig(R"(
    import { RetryError } from '@posthog/plugin-scaffold'
    export async function exportEvents(events, { storage }) {
      await storage.set('attempts', (await storage.get('attempts', 0)) + 1)
      throw new RetryError('the warehouse said 503')
    })",
                {{"exportEventsBufferSeconds", "1"}}, enqueuer);
  rig.produce(0, 2);
  auto& h = *rig.h;
  CHECK(h.wait_for("SELECT state FROM jobs WHERE kind = 'export'", "failed") == "failed");
  CHECK(h.query("SELECT attempts FROM jobs WHERE kind = 'export'") == "3");
  CHECK(h.query("SELECT last_error FROM jobs WHERE kind = 'export'").find("RetryError: the warehouse said 503") !=
        std::string::npos);
  CHECK(h.query("SELECT value FROM app_storage WHERE key = 'attempts'") == "3");
  CHECK(h.query("SELECT jsonb_array_length(payload) FROM jobs WHERE kind = 'export'") == "2");
  CHECK(rig.metric(R"(plugin_server_export_batches_total{app="exporter",result="retried"})") == 2);
  CHECK(rig.metric(R"(plugin_server_export_batches_total{app="exporter",result="failed"})") == 1);
  CHECK(rig.metric(R"(plugin_server_export_events_total{app="exporter",result="retried"})") == 4);
  CHECK(rig.metric(R"(plugin_server_export_events_total{app="exporter",result="failed"})") == 2);
}

TEST_CASE("exportEvents: a full in-flight window stores the buffers at once instead of waiting for their time",
          "[runtime][export][kafka]") {
  // Buffers that would wait ten minutes, behind a window of four events.
  ExportRig rig(kRecordingExporter, {{"exportEventsBufferSeconds", "600"}}, {}, 4);
  rig.produce(0, 20);
  auto& h = *rig.h;
  auto exported = [&] {
    return h.query("SELECT coalesce(sum(jsonb_array_length(value)), 0) FROM app_storage WHERE key LIKE 'batch:%'");
  };
  // With four in flight at most, all twenty consumed means sixteen settled,
  // so stored: without the flush the window stays full, nothing exported.
  auto consumed = [&] { return rig.metric("plugin_server_ingestion_consumed_total"); };
  for (int i = 0; i < 600 && (std::stoi(exported()) < 16 || consumed() < 20); ++i) std::this_thread::sleep_for(50ms);
  CHECK(std::stoi(exported()) >= 16);
  CHECK(consumed() == 20);
  // The tail waits for its buffer's time, or for shutdown, which stores it.
  rig.pipeline->stop(10s);
  CHECK(h.wait_for("SELECT coalesce(sum(jsonb_array_length(value)), 0) FROM app_storage WHERE key LIKE 'batch:%'",
                   "20") == "20");
}
