// LaneQueue alone, then one JS thread shared by two teams' apps.

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <string>
#include <vector>

#include "runtime/lane_queue.h"
#include "tests/support/runtime_harness.h"

using ps::runtime::LaneQueue;
using namespace std::chrono_literals;

namespace {
// Pops and "runs" the next task, charging it `cost`; returns its lane.
std::int64_t run_next(LaneQueue& q, std::chrono::nanoseconds cost) {
  auto [lane, task] = q.pop();
  task();
  q.charge(lane, cost);
  return lane;
}
}  // namespace

TEST_CASE("lane queue: the lane that used the thread least goes next, each lane in its own order", "[lane-queue]") {
  LaneQueue q;
  std::vector<std::string> ran;
  for (int i = 0; i < 5; ++i) q.push(2, [&ran, i] { ran.push_back("heavy" + std::to_string(i)); });
  CHECK(q.size() == 5);
  // The heavy lane's first task takes a second; meanwhile a light task comes in.
  auto [lane, task] = q.pop();
  CHECK(lane == 2);
  q.push(1, [&ran] { ran.push_back("light0"); });
  q.push(1, [&ran] { ran.push_back("light1"); });
  task();
  q.charge(lane, 1s);
  // The light lane goes first until it has used as much.
  CHECK(run_next(q, 1ms) == 1);
  CHECK(run_next(q, 1ms) == 1);
  CHECK(run_next(q, 1s) == 2);
  CHECK(run_next(q, 1s) == 2);
  q.push(1, [&ran] { ran.push_back("light2"); });
  // Back from idle, the light lane starts level with the heavy one: no
  // credit saved up while it had nothing to do, but it is not behind either.
  CHECK(run_next(q, 1ms) == 1);
  CHECK(run_next(q, 1s) == 2);
  CHECK(run_next(q, 1s) == 2);
  CHECK(q.empty());
  CHECK(ran == std::vector<std::string>{"heavy0", "light0", "light1", "heavy1", "heavy2", "light2", "heavy3", "heavy4"});
}

TEST_CASE("lane queue: a lane's task posted while it runs waits for its charge", "[lane-queue]") {
  LaneQueue q;
  q.push(7, [] {});
  auto [lane, task] = q.pop();
  q.push(7, [] {});  // from inside the running task
  CHECK(q.size() == 1);
  q.charge(lane, 1ms);
  CHECK(run_next(q, 1ms) == 7);
  CHECK(q.empty());
}

TEST_CASE("lane queue: on one JS thread, a team's single event is not queued behind another team's backlog",
          "[lane-queue][runtime]") {
  auto options = ps::test::RuntimeHarness::fast_options();
  options.threads = 1;
  options.health.enabled = false;  // this is about the queue alone
  ps::test::RuntimeHarness h(options);
  auto heavy = h.write_app("heavy", {{"index.js", R"(
    export function processEvent(e) {
      const end = Date.now() + 100
      while (Date.now() < end) {}
      return e
    }
  )"}});
  auto light = h.write_app("light", {{"index.js", R"(
    export function processEvent(e) { e.properties.light = true; return e }
  )"}});
  h.load({ps::test::RuntimeHarness::entry(heavy, {2}), ps::test::RuntimeHarness::entry(light, {1})});
  std::atomic<int> heavy_done{0};
  std::vector<std::future<ps::runtime::ChainResult>> backlog;
  for (int i = 0; i < 20; ++i) {
    h.runtime().chain().process(2, R"({"event":"e","team_id":2,"distinct_id":"d","properties":{}})",
                                [&heavy_done](ps::runtime::ChainResult) { ++heavy_done; });
  }
  // Twenty events of 100 ms each are queued ahead of it: in one queue the
  // light event would finish last. In lanes it runs after the heavy task
  // that is running when it arrives, and at most one more.
  auto light_result = h.runtime().chain().process(1, R"({"event":"e","team_id":1,"distinct_id":"d","properties":{}})");
  auto r = light_result.get();
  int heavy_before = heavy_done.load();
  REQUIRE(r.event);
  CHECK(r.event->find("\"light\":true") != std::string::npos);
  CHECK(heavy_before <= 2);
  for (int i = 0; i < 400 && heavy_done < 20; ++i) std::this_thread::sleep_for(25ms);
  CHECK(heavy_done == 20);
}
