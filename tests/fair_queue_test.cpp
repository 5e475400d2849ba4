// FairQueue alone (owners served in turns), then storage calls of two apps
// through it on a real Postgres.

#include <catch2/catch.hpp>

#include <future>
#include <mutex>
#include <vector>

#include "runtime/executor.h"
#include "runtime/fair_queue.h"
#include "tests/support/runtime_harness.h"

using ps::runtime::Executor;
using ps::runtime::FairQueue;
using ps::test::RuntimeHarness;
using json = nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("fair queue: owners with work take turns, each owner's tasks keep their order", "[runtime][fair]") {
  std::vector<std::string> ran;
  std::mutex mutex;
  auto record = [&](std::string what) {
    return [&, what] {
      std::lock_guard lock(mutex);
      ran.push_back(what);
    };
  };
  auto executor = std::make_unique<Executor>(1, "fair-test");
  FairQueue queue(*executor, 1);
  // The runner is held in its first task until everything is queued.
  std::promise<void> gate, held;
  auto opened = gate.get_future().share();
  queue.push(1, [opened, &held] {
    held.set_value();
    opened.wait();
  });
  held.get_future().wait();
  for (int i = 0; i < 4; ++i) queue.push(1, record("a" + std::to_string(i)));
  queue.push(2, record("b0"));
  queue.push(3, record("c0"));
  queue.push(2, record("b1"));
  CHECK(queue.waiting() == 7);
  gate.set_value();
  // The executor finishes what is queued before it goes, runners included.
  executor.reset();
  CHECK(queue.waiting() == 0);
  CHECK(ran == std::vector<std::string>{"a0", "b0", "c0", "a1", "b1", "a2", "a3"});
}

TEST_CASE("fair queue: one app's burst of storage calls does not queue another app's call behind it",
          "[runtime][fair][storage]") {
  auto options = RuntimeHarness::fast_options();
  options.limits.wall = 30s;
  options.blocking_threads = 1;  // one query at a time: the order is the queue's alone
  RuntimeHarness h(options);
  // The burst: 900 reads fired at once, once the app's first write is in.
  auto burst = h.write_app("burst", {{"index.js", R"(
    export async function processEvent(e, { storage }) {
      await storage.set('started', true)
      const reads = []
      for (let i = 0; i < 900; i++) reads.push(storage.get('k' + i).then(() => performance.now()))
      e.properties.last = Math.max(...(await Promise.all(reads)))
      return e
    })"}});
  auto single = h.write_app("single", {{"index.js", R"(
    export async function processEvent(e, { storage }) {
      await storage.get('x')
      e.properties.at = performance.now()
      return e
    })"}});
  h.load({RuntimeHarness::entry(burst, {1}), RuntimeHarness::entry(single, {2})});
  auto burst_result = h.runtime().chain().process(1, R"({"event":"e","team_id":1,"properties":{}})");
  h.wait_for("SELECT count(*) FROM app_storage WHERE key = 'started'", "1");
  auto single_at = h.run_chain(2, R"({"event":"e","team_id":2,"properties":{}})")["event"]["properties"]["at"];
  auto burst_event = burst_result.get();
  REQUIRE(burst_event.event);
  auto last = json::parse(*burst_event.event)["properties"]["last"].get<double>();
  // Served in turns, the single read is answered long before the burst's last.
  CHECK(single_at.get<double>() < last);
}
