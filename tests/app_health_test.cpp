// AppHealth alone, on a clock the test moves; then on real instances.

#include <catch2/catch.hpp>

#include <thread>

#include "runtime/app_health.h"
#include "tests/support/runtime_harness.h"

using ps::runtime::AppHealth;
using ps::runtime::CallCost;
using ps::runtime::HealthPolicy;
using ps::runtime::HealthState;
using namespace std::chrono_literals;

namespace {

HealthPolicy small_policy() {
  HealthPolicy p;
  p.budget_seconds = 10;
  p.refill_per_second = 1;
  p.error_cost_seconds = 0.5;
  p.limit_cost_seconds = 3;
  p.degrade_below = 0.5;
  p.degraded_max_calls = 1;
  p.suspend_for = 5s;
  p.max_suspensions = 2;
  return p;
}

CallCost limit_break() { return {1s, 1s, true, true}; }  // 1 + 0.001 + 0.5 + 3 = 4.501

struct Clocked {
  AppHealth::Clock::time_point now = AppHealth::Clock::time_point{} + 1000s;
  AppHealth health;
  explicit Clocked(HealthPolicy p = small_policy()) : health(p, now) {}
  HealthState state() { return health.snapshot(now).state; }
  bool admit() {
    if (!health.admit(now, nullptr)) return false;
    health.release();
    return true;
  }
};

}  // namespace

TEST_CASE("health: an instance whose calls succeed stays healthy, however busy", "[health]") {
  Clocked c(HealthPolicy{});  // the defaults
  // A whole JS thread, every second, for ten minutes: 1,000 calls of 1 ms per second.
  bool changed = false;
  for (int second = 0; second < 600; ++second) {
    for (int i = 0; i < 1000; ++i) changed |= c.health.charge({1ms, 1ms, false, false}, c.now).has_value();
    c.now += 1s;
  }
  CHECK_FALSE(changed);
  CHECK(c.state() == HealthState::healthy);
  CHECK(c.admit());
  // Slow but working: a thousand calls in flight, each waiting five seconds.
  for (int second = 0; second < 600; ++second) {
    for (int i = 0; i < 200; ++i) changed |= c.health.charge({100us, 5s, false, false}, c.now).has_value();
    c.now += 1s;
  }
  CHECK(c.state() == HealthState::healthy);
  // One error in a hundred calls, at 5,000 calls a second.
  for (int second = 0; second < 600; ++second) {
    for (int i = 0; i < 5000; ++i) changed |= c.health.charge({50us, 50us, i % 100 == 0, false}, c.now).has_value();
    c.now += 1s;
  }
  CHECK(c.state() == HealthState::healthy);
  CHECK_FALSE(changed);
}

TEST_CASE("health: broken limits degrade, then suspend, then disable until an operator enables it", "[health]") {
  Clocked c;
  // 10 - 4.501: still above half.
  CHECK_FALSE(c.health.charge(limit_break(), c.now));
  auto t = c.health.charge(limit_break(), c.now);
  REQUIRE(t);
  CHECK(t->from == HealthState::healthy);
  CHECK(t->to == HealthState::degraded);
  CHECK(c.health.snapshot(c.now).reason.find("budget") != std::string::npos);

  // Degraded: one call at a time.
  REQUIRE(c.health.admit(c.now, nullptr));
  CHECK_FALSE(c.health.admit(c.now, nullptr));
  c.health.release();
  CHECK(c.admit());

  t = c.health.charge(limit_break(), c.now);
  REQUIRE(t);
  CHECK(t->to == HealthState::suspended);
  CHECK(t->reason.find("2 broken limit(s)") != std::string::npos);
  CHECK_FALSE(c.admit());
  auto snap = c.health.snapshot(c.now);
  CHECK(snap.suspensions == 1);
  CHECK(snap.suspended_for_seconds == Approx(5));

  // The suspension ends: tried again on probation.
  c.now += 5s;
  std::optional<ps::runtime::HealthTransition> ended;
  REQUIRE(c.health.admit(c.now, &ended));
  c.health.release();
  REQUIRE(ended);
  CHECK(ended->to == HealthState::degraded);
  CHECK(c.health.snapshot(c.now).budget_left_seconds == Approx(5));

  // Still broken: the second time its budget runs out, it stays disabled.
  t = c.health.charge(limit_break(), c.now);
  t = t ? t : c.health.charge(limit_break(), c.now);
  REQUIRE(t);
  CHECK(t->to == HealthState::disabled);
  CHECK(t->reason.find("operator") != std::string::npos);
  c.now += 1h;
  CHECK_FALSE(c.admit());
  CHECK(c.state() == HealthState::disabled);

  t = c.health.enable(c.now);
  REQUIRE(t);
  CHECK(t->to == HealthState::degraded);
  CHECK(c.admit());
  CHECK_FALSE(c.health.enable(c.now));  // nothing to enable now
}

TEST_CASE("health: fast failures cost too, and a recovered instance is healthy again", "[health]") {
  Clocked c;
  // Errors that take no time at all: 0.5 each.
  int calls = 0;
  while (c.state() == HealthState::healthy && calls < 100) {
    c.health.charge({0ns, 0ns, true, false}, c.now);
    ++calls;
  }
  CHECK(calls == 11);  // 10 - 11 * 0.5 < 5
  CHECK(c.state() == HealthState::degraded);

  // It stops failing: full after (10 - 4.5) / 1 s, then healthy on its next call.
  c.now += 4s;
  CHECK_FALSE(c.health.charge({0ns, 0ns, false, false}, c.now));
  CHECK(c.state() == HealthState::degraded);
  c.now += 2s;
  auto t = c.health.charge({0ns, 0ns, false, false}, c.now);
  REQUIRE(t);
  CHECK(t->to == HealthState::healthy);
  CHECK(c.health.snapshot(c.now).reason.empty());
  // Two calls at once again.
  REQUIRE(c.health.admit(c.now, nullptr));
  CHECK(c.health.admit(c.now, nullptr));
}

TEST_CASE("health: the suspension count starts again once the instance was healthy", "[health]") {
  Clocked c;
  auto suspend = [&] {
    for (int i = 0; i < 10 && c.state() != HealthState::suspended; ++i) c.health.charge(limit_break(), c.now);
    REQUIRE(c.state() == HealthState::suspended);
  };
  suspend();
  c.now += 5s;
  CHECK(c.admit());
  c.now += 10s;  // refilled: healthy on the next look
  CHECK(c.admit());
  CHECK(c.state() == HealthState::healthy);
  suspend();  // the first suspension again, not the last
  CHECK(c.health.snapshot(c.now).suspensions == 1);
}

TEST_CASE("health: turned off, nothing is ever skipped", "[health]") {
  auto p = small_policy();
  p.enabled = false;
  Clocked c(p);
  for (int i = 0; i < 100; ++i) CHECK_FALSE(c.health.charge(limit_break(), c.now));
  CHECK(c.admit());
  CHECK(c.state() == HealthState::healthy);
}

// The same policy on real instances: a looping app is passed by, then
// suspended, tried again, disabled, and enabled by hand; the team's other
// app is never touched.
TEST_CASE("health: a team's looping app is skipped, suspended and disabled, and its other app keeps working",
          "[health][runtime]") {
  auto options = ps::test::RuntimeHarness::fast_options();
  options.limits.cpu = std::chrono::milliseconds(50);
  options.health = small_policy();
  options.health.refill_per_second = 0.01;  // the budget comes back only by waiting out a suspension
  options.health.suspend_for = 1s;
  ps::test::RuntimeHarness h(options);
  auto looper = h.write_app("looper", {{"index.js", R"(
    export function processEvent(e) {
      if (e.event === 'loop') while (true) {}
      e.properties.looper = true
      return e
    }
  )"}});
  auto marker = h.write_app("marker", {{"index.js", R"(
    export function processEvent(e) { e.properties.marked = true; return e }
  )"}});
  h.load({ps::test::RuntimeHarness::entry(looper, {1}, 1), ps::test::RuntimeHarness::entry(marker, {1}, 2)});
  auto& instance = *h.runtime().registry().for_team(1).front();
  REQUIRE(instance.name() == "looper");
  auto loop = R"({"event":"loop","team_id":1,"distinct_id":"d","properties":{}})";
  auto pass = R"({"event":"pass","team_id":1,"distinct_id":"d","properties":{}})";
  auto state_gauge = [&](const char* state) {
    return h.metrics().gauge("plugin_server_app_state", "", {{"app", "looper"}, {"team", "1"}, {"state", state}}).value();
  };

  // Each loop breaks the CPU limit: 3 + 0.05 + a little each. Two degrade
  // it (10 - 6.1 < 5), the fourth spends its budget.
  for (int i = 0; i < 4; ++i) {
    auto r = h.run_chain(1, loop);
    CHECK(r["failed"].size() == 1);
    CHECK(r["event"]["properties"]["marked"] == true);
  }
  CHECK(instance.health().state == HealthState::suspended);
  CHECK(state_gauge("suspended") == 1);
  CHECK(state_gauge("healthy") == 0);
  // Suspended: passed by, and marked as such.
  auto skipped = h.run_chain(1, pass);
  CHECK(skipped["failed"].empty());
  REQUIRE(skipped["skipped"].size() == 1);
  CHECK(skipped["skipped"][0].get<std::string>().find("suspended") != std::string::npos);
  CHECK(skipped["event"]["properties"]["$plugins_skipped"] == nlohmann::json::array({instance.label()}));
  CHECK_FALSE(skipped["event"]["properties"].contains("looper"));
  CHECK(skipped["event"]["properties"]["marked"] == true);

  // Once the suspension is over it is tried again, degraded; still looping,
  // its second suspension in a row disables it.
  nlohmann::json tried;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(50ms);
    tried = h.run_chain(1, pass);
    if (tried["skipped"].empty()) break;
  }
  CHECK(tried["event"]["properties"]["looper"] == true);
  CHECK(instance.health().state == HealthState::degraded);
  for (int i = 0; i < 10 && instance.health().state == HealthState::degraded; ++i) h.run_chain(1, loop);
  CHECK(instance.health().state == HealthState::disabled);
  CHECK(instance.health().reason.find("operator") != std::string::npos);
  std::this_thread::sleep_for(1500ms);  // longer than a suspension: it stays off
  CHECK(h.run_chain(1, pass)["skipped"].size() == 1);
  auto status = h.runtime().registry().status();
  REQUIRE(status.front().health);
  CHECK(status.front().health->state == HealthState::disabled);

  // An operator enables it: it runs again.
  CHECK(instance.enable());
  CHECK(h.run_chain(1, pass)["event"]["properties"]["looper"] == true);
  CHECK(h.metrics().counter("plugin_server_app_state_transitions_total", "", {{"app", "looper"}, {"to", "disabled"}}).value() == 1);
  CHECK(h.metrics().counter("plugin_server_app_state_transitions_total", "", {{"app", "looper"}, {"to", "suspended"}}).value() == 1);
  CHECK(h.metrics().counter("plugin_server_app_skipped_calls_total", "", {{"app", "looper"}, {"state", "suspended"}}).value() >= 1);
  // The marker app never left healthy.
  CHECK(h.runtime().registry().for_team(1).back()->health().state == HealthState::healthy);
}

TEST_CASE("health: a disabled instance's jobs wait, uncounted, and run once it is enabled", "[health][runtime][jobs]") {
  auto options = ps::test::RuntimeHarness::fast_options();
  options.limits.cpu = std::chrono::milliseconds(50);
  options.health = small_policy();
  options.health.refill_per_second = 0.01;
  options.health.max_suspensions = 1;  // the first time its budget runs out, it is disabled
  auto h = ps::test::RuntimeHarness::with_jobs(options);
  auto app = h->write_app("looper", {{"index.js", R"(
    export async function processEvent(e, { jobs }) {
      if (e.event === 'loop') while (true) {}
      await jobs.record({ n: 1 }).runIn(1, 'hour')
      return e
    }
    export const jobs = { record: async (payload, { storage }) => { await storage.set('ran', payload.n) } }
  )"}});
  h->load({ps::test::RuntimeHarness::entry(app, {1})});
  auto& instance = h->only_instance();
  h->run_chain(1, R"({"event":"pass","team_id":1,"distinct_id":"d","properties":{}})");
  REQUIRE(h->query("SELECT count(*) FROM jobs") == "1");
  for (int i = 0; i < 10 && instance.health().state != HealthState::disabled; ++i) {
    h->run_chain(1, R"({"event":"loop","team_id":1,"distinct_id":"d","properties":{}})");
  }
  REQUIRE(instance.health().state == HealthState::disabled);

  // Due now: claimed, passed by, put back uncounted, again and again.
  h->query("UPDATE jobs SET run_at = now() RETURNING id");
  auto& postponed = h->metrics().counter("plugin_server_jobs_postponed_total", "", {{"app", "looper"}});
  for (int i = 0; i < 200 && postponed.value() < 2; ++i) std::this_thread::sleep_for(50ms);
  CHECK(postponed.value() >= 2);
  CHECK(h->query("SELECT count(*) FROM app_storage WHERE key = 'ran'") == "0");
  CHECK(h->wait_for("SELECT max(attempts) FROM jobs WHERE state = 'available'", "0") == "0");

  CHECK(instance.enable());
  CHECK(h->wait_for("SELECT value::text FROM app_storage WHERE key = 'ran'", "1") == "1");
  CHECK(h->wait_for("SELECT count(*) FROM jobs", "0") == "0");
}
