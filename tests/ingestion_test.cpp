// The ingestion pipeline against the test broker (a separate process) and
// real app instances.

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "ingestion/event_pipeline.h"
#include "tests/support/kafka.h"
#include "tests/support/runtime_harness.h"

using namespace std::chrono_literals;
using ps::test::RuntimeHarness;
using nlohmann::json;

namespace {

ps::ingestion::PipelineOptions options_for(const ps::test::KafkaBroker& broker, const std::string& group) {
  ps::ingestion::PipelineOptions o;
  o.brokers = broker.bootstrap();
  o.group_id = group;
  o.input_topic = "in";
  o.output_topic = "out";
  o.dlq_topic = "dlq";
  o.max_message_bytes = 4096;
  o.session_timeout_ms = 6000;
  return o;
}

std::string event(long long team, const std::string& name, const std::string& distinct, json properties = json::object()) {
  return json{{"event", name}, {"team_id", team}, {"distinct_id", distinct}, {"properties", properties}}.dump();
}

// A team's app that stalls on the event named "stall" until the test lets
// it go (through storage), behind a consumer whose small window the stalled
// key fills: fetching pauses.
struct StalledConsumer {
  static ps::runtime::RuntimeOptions patient() {
    auto o = RuntimeHarness::fast_options();
    o.limits.wall = 120s;  // the stall outlasts rebalances and outages
    return o;
  }
  RuntimeHarness h{patient()};
  ps::ingestion::PipelineOptions options;
  std::unique_ptr<ps::ingestion::EventPipeline> pipeline;

  StalledConsumer(const ps::test::KafkaBroker& broker, const std::string& group) : options(options_for(broker, group)) {
    auto app = h.write_app("stall", {{"index.js", R"(
      export async function processEvent(e, { storage }) {
        if (e.event === 'stall') while (!(await storage.get('go'))) {}
        return e
      }
    )"}});
    h.load({RuntimeHarness::entry(app, {1})});
    options.max_in_flight = 4;
    pipeline = std::make_unique<ps::ingestion::EventPipeline>(options, h.runtime().chain(), h.metrics());
    std::vector<std::pair<std::string, std::string>> stalled = {{"1:s", event(1, "stall", "s")}};
    for (int i = 0; i < 10; ++i) stalled.emplace_back("1:s", event(1, "e", "s", {{"seq", i}}));
    ps::test::produce(broker.bootstrap(), "in", stalled);
    auto& pauses = h.metrics().counter("plugin_server_ingestion_pauses_total", "");
    for (int i = 0; i < 200 && pauses.value() < 1; ++i) std::this_thread::sleep_for(50ms);
    REQUIRE(pauses.value() >= 1);
  }

  // Twenty events of other keys ("later", keys 1:k0..1:k19).
  static void produce_later(const ps::test::KafkaBroker& broker) {
    std::vector<std::pair<std::string, std::string>> later;
    for (int i = 0; i < 20; ++i) later.emplace_back("1:k" + std::to_string(i), event(1, "later", "k" + std::to_string(i)));
    ps::test::produce(broker.bootstrap(), "in", later);
  }

  void release() {
    auto id = h.query("SELECT id FROM app_instances");
    h.query("INSERT INTO app_storage (instance_id, key, value) VALUES (" + id + ", 'go', 'true') RETURNING 1");
  }
};

}  // namespace

TEST_CASE("ingestion: events pass through, are transformed, dropped, marked failed, envelopes are merged",
          "[ingestion][kafka]") {
  ps::test::KafkaBroker broker(1, {"in:2", "out:2", "dlq:1"});
  RuntimeHarness h;
  auto app = h.write_app("shaper", {{"index.js", R"(
    export function processEvent(e) {
      if (e.event === 'drop') return null
      if (e.event === 'boom') throw new Error('nope')
      e.properties.shaped = true
      return e
    }
    export async function onEvent(e, { storage }) { await storage.set(`seen:${e.event}`, e.properties.shaped || false) }
  )"}});
  h.load({RuntimeHarness::entry(app, {1})});
  ps::ingestion::EventPipeline pipeline(options_for(broker, "g1"), h.runtime().chain(), h.metrics());

  json envelope = {{"team_id", 1}, {"ip", "1.2.3.4"},
                   {"data", json{{"event", "from-envelope"}, {"distinct_id", "e1"}, {"properties", json::object()}}.dump()}};
  ps::test::produce(broker.bootstrap(), "in",
                    {{"a", event(1, "keep", "u1")}, {"b", event(2, "other-team", "u2", {{"x", 1}})},
                     {"c", event(1, "drop", "u3")}, {"d", event(1, "boom", "u4")}, {"e", envelope.dump()}});
  auto out = ps::test::consume(broker.bootstrap(), "out", 4, 30s);
  REQUIRE(out.size() == 4);
  std::map<std::string, std::pair<std::string, json>> by_event;
  for (const auto& m : out) {
    auto e = json::parse(m.value);
    by_event[e["event"]] = {m.key, e};
  }
  CHECK(by_event["keep"].first == "1:u1");
  CHECK(by_event["keep"].second["properties"]["shaped"] == true);
  CHECK(by_event["other-team"].first == "2:u2");
  CHECK(by_event["other-team"].second["properties"] == json({{"x", 1}}));
  CHECK_FALSE(by_event.count("drop"));
  CHECK(by_event["boom"].second["properties"]["$plugins_failed"].size() == 1);
  CHECK_FALSE(by_event["boom"].second["properties"].contains("shaped"));
  CHECK(by_event["from-envelope"].first == "1:e1");
  CHECK(by_event["from-envelope"].second["ip"] == "1.2.3.4");
  CHECK(by_event["from-envelope"].second["properties"]["shaped"] == true);

  // onEvent saw the final events, not the dropped one.
  CHECK(h.wait_for("SELECT count(*) FROM app_storage WHERE key LIKE 'seen:%'", "3") == "3");
  CHECK(h.query("SELECT value::text FROM app_storage WHERE key = 'seen:keep'") == "true");
  CHECK(h.query("SELECT count(*) FROM app_storage WHERE key = 'seen:drop'") == "0");
  pipeline.stop(5s);
  auto metrics = h.metrics().render();
  CHECK(metrics.find("plugin_server_ingestion_consumed_total 5") != std::string::npos);
  CHECK(metrics.find("plugin_server_ingestion_produced_total 4") != std::string::npos);
  CHECK(metrics.find("plugin_server_ingestion_dropped_total 1") != std::string::npos);
  CHECK(metrics.find("plugin_server_ingestion_failed_in_app_total 1") != std::string::npos);
}

TEST_CASE("ingestion: unusable messages go to the dead-letter topic with the reason and the source", "[ingestion][kafka]") {
  ps::test::KafkaBroker broker(1, {"in:1", "out:1", "dlq:1"});
  RuntimeHarness h;
  ps::ingestion::EventPipeline pipeline(options_for(broker, "g2"), h.runtime().chain(), h.metrics());
  std::vector<std::pair<std::string, std::string>> bad = {
      {"k", "not json"}, {"k", "[1]"}, {"k", R"({"event":"e","distinct_id":"d"})"},
      {"k", R"({"event":"e","team_id":1})"}, {"k", event(1, "huge", "d", {{"pad", std::string(5000, 'x')}})},
      {"k", event(1, "fine", "d")}};
  ps::test::produce(broker.bootstrap(), "in", bad);
  auto dead = ps::test::consume(broker.bootstrap(), "dlq", 5, 30s);
  REQUIRE(dead.size() == 5);
  std::vector<std::string> reasons;
  for (const auto& m : dead) {
    std::map<std::string, std::string> headers(m.headers.begin(), m.headers.end());
    reasons.push_back(headers["dlq-reason"]);
    CHECK(headers["dlq-source-topic"] == "in");
    CHECK(headers["dlq-source-partition"] == "0");
    // The original bytes, cut to kafka.max_message_bytes, which a header then says.
    const auto& original = bad.at(std::stoul(headers["dlq-source-offset"])).second;
    if (original.size() > 4096) {
      CHECK(headers["dlq-truncated-from-bytes"] == std::to_string(original.size()));
      CHECK(m.value == original.substr(0, 4096));
    } else {
      CHECK(original == m.value);
      CHECK_FALSE(headers.count("dlq-truncated-from-bytes"));
    }
  }
  CHECK(reasons == std::vector<std::string>{"not valid JSON (at byte 0)", "not a JSON object", "missing team_id",
                                            "missing distinct_id", reasons[4]});
  CHECK(reasons[4].find("over the limit of 4096") != std::string::npos);
  CHECK(ps::test::consume(broker.bootstrap(), "out", 1, 30s).size() == 1);
}

TEST_CASE("ingestion: hostile messages and outputs are dead-lettered and the consumer goes on", "[ingestion][kafka]") {
  ps::test::KafkaBroker broker(1, {"in:1", "out:1", "dlq:1"});
  RuntimeHarness h;
  auto app = h.write_app("grower", {{"index.js", R"(
    export function processEvent(e) {
      if (e.event === 'grow') e.properties.pad = 'x'.repeat(5000)
      return e
    }
  )"}});
  h.load({RuntimeHarness::entry(app, {1})});
  auto options = options_for(broker, "g-hostile");
  options.max_depth = 64;
  ps::ingestion::EventPipeline pipeline(options, h.runtime().chain(), h.metrics());
  // Each of these once crashed or wedged the daemon: a number beyond a
  // double in an envelope, nesting deeper than the stack, an output over
  // the producer's size limit; a tombstone lost its key.
  std::string deep = R"({"team_id":1,"event":"e","distinct_id":"d","p":)" + std::string(2000, '[') +
                     std::string(2000, ']') + "}";
  std::vector<std::pair<std::string, std::string>> input = {
      {"k0", R"({"data":"{\"event\":\"env\",\"distinct_id\":\"d\"}","team_id":1,"x":1e400})"},
      {"k1", deep},
      {"k2", event(1, "grow", "d")},
      {"tomb", ""},
      {"k4", R"({"team_id":1,"event":"surrogate","distinct_id":"\ud800"})"},
      {"k5", event(1, "fine", "d")}};
  ps::test::produce(broker.bootstrap(), "in", input);
  auto dead = ps::test::consume(broker.bootstrap(), "dlq", 3, 30s);
  REQUIRE(dead.size() == 3);
  std::map<std::string, std::pair<std::string, std::string>> reason_by_offset;  // offset -> key, reason
  for (const auto& m : dead) {
    std::map<std::string, std::string> headers(m.headers.begin(), m.headers.end());
    reason_by_offset[headers["dlq-source-offset"]] = {m.key, headers["dlq-reason"]};
    CHECK(m.value == input.at(std::stoul(headers["dlq-source-offset"])).second);
  }
  CHECK(reason_by_offset["1"] == std::pair<std::string, std::string>{"k1", "nested deeper than 64 levels"});
  CHECK(reason_by_offset["2"].first == "k2");
  CHECK(reason_by_offset["2"].second.find("the processed event is") == 0);
  CHECK(reason_by_offset["2"].second.find("over kafka.max_message_bytes (4096)") != std::string::npos);
  CHECK(reason_by_offset["3"].first == "tomb");
  CHECK(reason_by_offset["3"].second.find("not valid JSON") == 0);
  auto out = ps::test::consume(broker.bootstrap(), "out", 3, 30s);
  REQUIRE(out.size() == 3);
  // Events of one key come out in order; keys may interleave.
  std::map<std::string, std::vector<std::string>> by_key;
  for (const auto& m : out) by_key[m.key].push_back(m.value);
  REQUIRE(by_key["1:d"].size() == 2);
  CHECK(json::parse(by_key["1:d"][0])["event"] == "env");
  CHECK(json::parse(by_key["1:d"][1])["event"] == "fine");
  REQUIRE(by_key["1:\xed\xa0\x80"].size() == 1);
  CHECK(by_key["1:\xed\xa0\x80"][0].find(R"("distinct_id":"\ud800")") != std::string::npos);
  pipeline.stop(5s);
  auto metrics = h.metrics().render();
  CHECK(metrics.find("plugin_server_ingestion_refused_outputs_total 1") != std::string::npos);
  CHECK(metrics.find("plugin_server_ingestion_dead_lettered_total 3") != std::string::npos);
}

TEST_CASE("ingestion: a dead letter the broker refuses for good is counted and skipped, the consumer goes on",
          "[ingestion][kafka]") {
  ps::test::KafkaBroker broker(1, {"in:1", "out:1", "dlq:1"});
  RuntimeHarness h;
  ps::test::produce(broker.bootstrap(), "in", {{"bad", "not json"}});
  // The pipeline's first produce request is its dead letter: refused.
  broker.refuse_next_produce();
  ps::ingestion::EventPipeline pipeline(options_for(broker, "g-lost-dead-letter"), h.runtime().chain(), h.metrics());
  auto& lost = h.metrics().counter("plugin_server_ingestion_dead_letters_lost_total", "");
  for (int i = 0; i < 600 && lost.value() < 1; ++i) std::this_thread::sleep_for(50ms);
  CHECK(lost.value() == 1);
  ps::test::produce(broker.bootstrap(), "in", {{"good", event(1, "after", "d")}});
  auto out = ps::test::consume(broker.bootstrap(), "out", 1, 30s);
  REQUIRE(out.size() == 1);
  CHECK(json::parse(out[0].value)["event"] == "after");
  // The refused dead letter was skipped, not sent again: the next one is first in the topic.
  ps::test::produce(broker.bootstrap(), "in", {{"bad2", "still not json"}});
  auto dead = ps::test::consume(broker.bootstrap(), "dlq", 1, 30s);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].key == "bad2");
  pipeline.stop(5s);
  CHECK(lost.value() == 1);
}

TEST_CASE("ingestion: events of one key keep their order across 10,000 events", "[ingestion][kafka]") {
  ps::test::KafkaBroker broker(1, {"in:4", "out:4", "dlq:1"});
  RuntimeHarness h;
  auto app = h.write_app("async", {{"index.js", R"(
    export async function processEvent(e) { await null; e.properties.seen = true; return e }
  )"}});
  h.load({RuntimeHarness::entry(app, {1})});
  ps::ingestion::EventPipeline pipeline(options_for(broker, "g3"), h.runtime().chain(), h.metrics());
  std::vector<std::pair<std::string, std::string>> input;
  for (int i = 0; i < 10000; ++i) {
    auto person = "p" + std::to_string(i % 7);
    input.emplace_back("1:" + person, event(1, "e", person, {{"seq", i}}));
  }
  ps::test::produce(broker.bootstrap(), "in", input);
  auto out = ps::test::consume(broker.bootstrap(), "out", 10000, 60s);
  REQUIRE(out.size() == 10000);
  std::map<std::string, int> last;
  int out_of_order = 0;
  for (const auto& m : out) {
    int seq = json::parse(m.value)["properties"]["seq"];
    auto [it, fresh] = last.emplace(m.key, seq);
    if (!fresh) {
      if (seq <= it->second) ++out_of_order;
      it->second = seq;
    }
  }
  CHECK(out_of_order == 0);
  CHECK(last.size() == 7);
}

TEST_CASE("ingestion: in-flight work stays bounded, a stalled key pauses fetching, and nothing is lost",
          "[ingestion][kafka]") {
  ps::test::KafkaBroker broker(1, {"in:1", "out:1", "dlq:1"});
  RuntimeHarness h;
  // The first event never settles: it holds its key until the wall-clock
  // limit (2 s) fails it, and every later event of the key waits behind it.
  auto app = h.write_app("stall", {{"index.js", R"(
    export async function processEvent(e) {
      if (e.event === 'stall') await new Promise(() => {})
      return e
    }
  )"}});
  h.load({RuntimeHarness::entry(app, {1})});
  auto options = options_for(broker, "g-bounded");
  options.max_in_flight = 10;
  ps::ingestion::EventPipeline pipeline(options, h.runtime().chain(), h.metrics());

  std::vector<std::pair<std::string, std::string>> input = {{"1:u", event(1, "stall", "u")}};
  for (int i = 1; i < 60; ++i) input.emplace_back("1:u", event(1, "e", "u", {{"seq", i}}));
  ps::test::produce(broker.bootstrap(), "in", input);

  auto& in_flight = h.metrics().gauge("plugin_server_ingestion_in_flight", "");
  std::atomic<bool> sampling{true};
  double peak = 0;
  std::thread sampler([&] {
    while (sampling) {
      peak = std::max(peak, in_flight.value());
      std::this_thread::sleep_for(1ms);
    }
  });
  auto out = ps::test::consume(broker.bootstrap(), "out", 60, 60s);
  sampling = false;
  sampler.join();

  REQUIRE(out.size() == 60);
  CHECK(json::parse(out[0].value)["properties"]["$plugins_failed"].size() == 1);
  for (int i = 1; i < 60; ++i) CHECK(json::parse(out[static_cast<std::size_t>(i)].value)["properties"]["seq"] == i);
  CHECK(peak == 10);
  CHECK(h.metrics().counter("plugin_server_ingestion_pauses_total", "").value() >= 1);
}

TEST_CASE("ingestion: a team whose app does not answer holds only its share, and other teams' events keep flowing",
          "[ingestion][kafka]") {
  ps::test::KafkaBroker broker(1, {"in:2", "out:2", "dlq:1"});
  RuntimeHarness h(StalledConsumer::patient());
  // Team 2's app waits on every event until the test lets it go; team 1's
  // app answers at once.
  auto waits = h.write_app("waits", {{"index.js", R"(
    export async function processEvent(e, { storage }) {
      while (!(await storage.get('go'))) await new Promise((r) => setTimeout(r, 100))
      return e
    }
  )"}});
  auto quick = h.write_app("quick", {{"index.js", R"(
    export function processEvent(e) { e.properties.quick = true; return e }
  )"}});
  h.load({RuntimeHarness::entry(waits, {2}), RuntimeHarness::entry(quick, {1})});
  auto options = options_for(broker, "g-shares");
  options.max_in_flight = 10;
  options.max_in_flight_per_team = 5;
  ps::ingestion::EventPipeline pipeline(options, h.runtime().chain(), h.metrics());

  // 30 events of team 2 (ten keys, three each), then team 1's: without
  // shares team 2 fills the window and fetching pauses before team 1's
  // events are read at all.
  std::vector<std::pair<std::string, std::string>> slow;
  for (int seq = 0; seq < 3; ++seq) {
    for (int k = 0; k < 10; ++k) {
      auto key = "k" + std::to_string(k);
      slow.emplace_back("2:" + key, event(2, "slow", key, {{"seq", seq}}));
    }
  }
  ps::test::produce(broker.bootstrap(), "in", slow);
  auto& parked = h.metrics().gauge("plugin_server_ingestion_parked", "");
  for (int i = 0; i < 400 && parked.value() < 25; ++i) std::this_thread::sleep_for(50ms);
  CHECK(parked.value() == 25);
  CHECK(h.metrics().gauge("plugin_server_ingestion_in_flight", "").value() == 5);

  std::vector<std::pair<std::string, std::string>> quick_events;
  for (int i = 0; i < 5; ++i) quick_events.emplace_back("1:q" + std::to_string(i), event(1, "quick", "q" + std::to_string(i)));
  ps::test::produce(broker.bootstrap(), "in", quick_events);
  auto out = ps::test::consume(broker.bootstrap(), "out", 5, 30s);
  REQUIRE(out.size() == 5);
  for (const auto& m : out) CHECK(json::parse(m.value)["properties"]["quick"] == true);

  // Released, team 2's events all come out, in order within each key.
  auto id = h.query("SELECT id FROM app_instances WHERE team_id = 2");
  h.query("INSERT INTO app_storage (instance_id, key, value) VALUES (" + id + ", 'go', 'true') RETURNING 1");
  out = ps::test::consume(broker.bootstrap(), "out", 35, 60s);
  REQUIRE(out.size() == 35);
  std::map<std::string, int> next_seq;
  for (const auto& m : out) {
    auto e = json::parse(m.value);
    if (e["event"] != "slow") continue;
    CHECK(e["properties"]["seq"] == next_seq[m.key]);
    next_seq[m.key] = e["properties"]["seq"].get<int>() + 1;
  }
  CHECK(next_seq.size() == 10);
  pipeline.stop(5s);
  CHECK(parked.value() == 0);
  CHECK(h.metrics().counter("plugin_server_ingestion_parked_total", "").value() >= 25);
  CHECK(h.metrics().counter("plugin_server_ingestion_pauses_total", "").value() == 0);
}

TEST_CASE("ingestion: a consumer paused for back-pressure consumes again after a rebalance", "[ingestion][kafka]") {
  ps::test::KafkaBroker broker(1, {"in:2", "out:2", "dlq:1"});
  StalledConsumer stalled(broker, "g-rebalance");
  auto& h = stalled.h;
  auto& first = *stalled.pipeline;
  auto& options = stalled.options;
  // A second daemon joins and leaves: the first gets every partition back.
  {
    ps::ingestion::EventPipeline second(options, h.runtime().chain(), h.metrics());
    for (int i = 0; i < 400 && second.assigned_partitions() == 0; ++i) std::this_thread::sleep_for(50ms);
    REQUIRE(second.assigned_partitions() > 0);
    second.stop(5s);
  }
  for (int i = 0; i < 400 && first.assigned_partitions() < 2; ++i) std::this_thread::sleep_for(50ms);
  REQUIRE(first.assigned_partitions() == 2);
  // The stall ends: the window drains and fetching must resume on the partitions it got back.
  stalled.release();
  // Events of other keys, on both partitions, must flow through the first daemon now.
  StalledConsumer::produce_later(broker);
  std::set<std::string> seen;
  ps::test::consume_until(broker.bootstrap(), "out", [&](const ps::test::KafkaMessage& m) {
    if (json::parse(m.value)["event"] == "later") seen.insert(m.key);
    return seen.size() == 20;
  }, 60s);
  CHECK(seen.size() == 20);
}

TEST_CASE("ingestion: offsets are committed, so a restarted consumer does not read settled events again",
          "[ingestion][kafka]") {
  ps::test::KafkaBroker broker(1, {"in:2", "out:2", "dlq:1"});
  RuntimeHarness h;
  {
    ps::ingestion::EventPipeline first(options_for(broker, "g4"), h.runtime().chain(), h.metrics());
    ps::test::produce(broker.bootstrap(), "in", {{"a", event(1, "one", "u")}, {"b", event(1, "two", "v")}});
    REQUIRE(ps::test::consume(broker.bootstrap(), "out", 2, 30s).size() == 2);
    first.stop(5s);
  }
  ps::ingestion::EventPipeline second(options_for(broker, "g4"), h.runtime().chain(), h.metrics());
  ps::test::produce(broker.bootstrap(), "in", {{"c", event(1, "three", "w")}});
  auto out = ps::test::consume(broker.bootstrap(), "out", 4, 20s);
  CHECK(out.size() == 3);
}

TEST_CASE("ingestion: a broker outage is reported, and consumption resumes when it is back", "[ingestion][kafka]") {
  ps::test::KafkaBroker broker(1, {"in:2", "out:2", "dlq:1"});
  RuntimeHarness h;
  ps::ingestion::EventPipeline pipeline(options_for(broker, "g5"), h.runtime().chain(), h.metrics());
  std::vector<std::pair<std::string, std::string>> first, second;
  for (int i = 0; i < 50; ++i) first.emplace_back("k", event(1, "before", "u" + std::to_string(i)));
  for (int i = 0; i < 50; ++i) second.emplace_back("k", event(1, "after", "u" + std::to_string(i)));
  ps::test::produce(broker.bootstrap(), "in", first);
  REQUIRE(ps::test::consume(broker.bootstrap(), "out", 50, 30s).size() == 50);

  broker.set_down(true);
  std::string reason;
  bool reported = false;
  for (int i = 0; i < 300 && !reported; ++i) {
    reported = !pipeline.connected(&reason);
    if (!reported) std::this_thread::sleep_for(100ms);
  }
  CHECK(reported);
  CHECK_FALSE(reason.empty());

  broker.set_down(false);
  ps::test::produce(broker.bootstrap(), "in", second);
  auto out = ps::test::consume(broker.bootstrap(), "out", 100, 60s);
  CHECK(out.size() >= 100);
  std::set<std::string> after;
  for (const auto& m : out) {
    auto e = json::parse(m.value);
    if (e["event"] == "after") after.insert(e["distinct_id"].get<std::string>());
  }
  CHECK(after.size() == 50);
  CHECK(pipeline.connected(nullptr));
}

TEST_CASE("ingestion: paused for back-pressure through a broker outage, it reports the brokers back and consumes again",
          "[ingestion][kafka]") {
  ps::test::KafkaBroker broker(1, {"in:2", "out:2", "dlq:1"});
  StalledConsumer stalled(broker, "g-outage-paused");
  auto& pipeline = *stalled.pipeline;

  // Down, and back before the group forgets the member: the consumer stays
  // paused, so no message arrives to say that the brokers are back.
  broker.set_down(true);
  bool down_seen = false;
  for (int i = 0; i < 300 && !down_seen; ++i) {
    down_seen = !pipeline.connected(nullptr);
    if (!down_seen) std::this_thread::sleep_for(100ms);
  }
  REQUIRE(down_seen);
  broker.set_down(false);
  // Readiness follows the brokers while the consumer is still paused.
  bool back = false;
  for (int i = 0; i < 600 && !back; ++i) {
    back = pipeline.connected(nullptr);
    if (!back) std::this_thread::sleep_for(100ms);
  }
  CHECK(back);

  // The stall ends: everything stalled and everything produced since comes out.
  stalled.release();
  StalledConsumer::produce_later(broker);
  std::set<std::string> seen;
  ps::test::consume_until(broker.bootstrap(), "out", [&](const ps::test::KafkaMessage& m) {
    auto e = json::parse(m.value);
    seen.insert(e["event"] == "later" ? m.key : e["event"].get<std::string>() + std::to_string(e["properties"].value("seq", -1)));
    return seen.size() == 31;
  }, 60s);
  CHECK(seen.size() == 31);
}

TEST_CASE("ingestion: two consumers in one group share the partitions and lose nothing", "[ingestion][kafka]") {
  ps::test::KafkaBroker broker(1, {"in:4", "out:4", "dlq:1"});
  RuntimeHarness h;
  ps::metrics::Registry metrics_a, metrics_b;
  ps::ingestion::EventPipeline a(options_for(broker, "g6"), h.runtime().chain(), metrics_a);
  std::vector<std::pair<std::string, std::string>> input;
  for (int i = 0; i < 2000; ++i) input.emplace_back("", event(1, "e" + std::to_string(i), "u" + std::to_string(i % 50)));
  ps::test::produce(broker.bootstrap(), "in", {input.begin(), input.begin() + 1000});
  ps::ingestion::EventPipeline b(options_for(broker, "g6"), h.runtime().chain(), metrics_b);
  // The second joins while events flow: a rebalance. Then both hold partitions.
  for (int i = 0; i < 300 && (a.assigned_partitions() == 0 || b.assigned_partitions() == 0); ++i) {
    std::this_thread::sleep_for(100ms);
  }
  CHECK(a.assigned_partitions() + b.assigned_partitions() == 4);
  ps::test::produce(broker.bootstrap(), "in", {input.begin() + 1000, input.end()});
  // Every event is in the output; a rebalance may deliver some twice (at-least-once).
  std::set<std::string> names;
  CHECK(ps::test::consume_until(
      broker.bootstrap(), "out",
      [&](const ps::test::KafkaMessage& m) {
        names.insert(json::parse(m.value)["event"].get<std::string>());
        return names.size() == 2000;
      },
      60s));
  CHECK(names.size() == 2000);
  a.stop(5s);
  b.stop(5s);
}

TEST_CASE("ingestion: an event stays in flight until its onEvent calls settle, so they are bounded and survive restarts",
          "[ingestion][kafka]") {
  ps::test::KafkaBroker broker(1, {"in:1", "out:1", "dlq:1"});
  RuntimeHarness h(StalledConsumer::patient());
  // onEvent waits for the test's go (through storage), well within its time limit.
  auto app = h.write_app("listener", {{"index.js", R"(
    export async function onEvent(e, { storage }) {
      while (!(await storage.get('go'))) await new Promise((resolve) => setTimeout(resolve, 20))
      await storage.set('seen:' + e.properties.n, true)
    }
  )"}});
  h.load({RuntimeHarness::entry(app, {1})});
  ps::ingestion::EventPipeline pipeline(options_for(broker, "g-on-event"), h.runtime().chain(), h.metrics());
  std::vector<std::pair<std::string, std::string>> input;
  for (int i = 0; i < 3; ++i) input.emplace_back("", event(1, "e", "d" + std::to_string(i), {{"n", i}}));
  ps::test::produce(broker.bootstrap(), "in", input);
  // The outputs are acknowledged, and the events are still in flight.
  REQUIRE(ps::test::consume(broker.bootstrap(), "out", 3, 30s).size() == 3);
  auto& in_flight = h.metrics().gauge("plugin_server_ingestion_in_flight", "");
  CHECK(in_flight.value() == 3);
  auto id = h.query("SELECT id FROM app_instances");
  h.query("INSERT INTO app_storage (instance_id, key, value) VALUES (" + id + ", 'go', 'true') RETURNING 1");
  CHECK(h.wait_for("SELECT count(*) FROM app_storage WHERE key LIKE 'seen:%'", "3") == "3");
  for (int i = 0; i < 200 && in_flight.value() > 0; ++i) std::this_thread::sleep_for(50ms);
  CHECK(in_flight.value() == 0);
  pipeline.stop(5s);
}
