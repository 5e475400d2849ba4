// Timers and AbortController: on the isolate's own loop, in Node's order.

#include <catch2/catch.hpp>

#include "tests/support/js_oracle.h"
#include <nlohmann/json.hpp>

#include "tests/support/sandbox_harness.h"

using ps::test::in_node;
using ps::test::in_sandbox;
using ps::test::SandboxHarness;

TEST_CASE("api timers: setTimeout, setInterval, setImmediate and clearing them, in Node's order", "[runtime][api]") {
  std::string body = R"(
    const order = []
    await new Promise((resolve) => {
      setTimeout((a, b) => order.push('timeout ' + a + b), 30, 'x', 'y')
      const cancelled = setTimeout(() => order.push('cancelled'), 10)
      clearTimeout(cancelled)
      setImmediate(() => order.push('immediate'))
      let ticks = 0
      const interval = setInterval(() => {
        order.push('tick ' + ++ticks)
        if (ticks === 3) { clearInterval(interval); setTimeout(resolve, 40) }
      }, 5)
    })
    const t = setTimeout(() => {}, 1)
    return [order.filter((o) => o.startsWith('tick')), order.includes('cancelled'), order.includes('timeout xy'),
            order[0], typeof t.unref, t.unref() === t, typeof (+t)]
  )";
  CHECK(in_sandbox(body) == in_node(body));
}

TEST_CASE("api timers: a call that awaits a timer past its wall-clock limit fails, the app goes on", "[runtime][api]") {
  ps::runtime::Limits limits;
  limits.wall = std::chrono::milliseconds(300);
  SandboxHarness h({{"index.js", R"(
    exports.processEvent = async (e) => {
      await new Promise((resolve) => setTimeout(resolve, e.properties.wait))
      return e
    }
  )"}}, limits);
  auto slow = h.process_event(R"({"event":"e","team_id":1,"properties":{"wait":5000}})");
  CHECK(slow.error == "did not settle within the time limit of 300 ms");
  // The owner replaces a broken isolate; a new one serves the next call.
  SandboxHarness fresh({{"index.js", "exports.processEvent = async (e) => { await new Promise((r) => setTimeout(r, 20)); return e }"}},
                       limits);
  CHECK(fresh.process_event(R"({"event":"e","team_id":1,"properties":{}})").ok());
}

TEST_CASE("api timers: AbortController aborts, and fetch rejects on an aborted signal", "[runtime][api]") {
  std::string body = R"(
    const controller = new AbortController()
    const seen = []
    controller.signal.addEventListener('abort', () => seen.push('listener'))
    controller.signal.onabort = () => seen.push('onabort')
    controller.abort()
    controller.abort()
    let fetched
    try { await fetch('https://example.com/', { signal: controller.signal }); fetched = 'fetched' } catch (e) { fetched = e.name }
    const timed = AbortSignal.timeout(10)
    await new Promise((r) => setTimeout(r, 30))
    return [controller.signal.aborted, controller.signal.reason.name, seen.sort(), fetched, AbortSignal.abort().aborted,
            timed.aborted, timed.reason.name]
  )";
  CHECK(in_sandbox(body) == in_node(body));
}

TEST_CASE("api globals: services this sandbox has no backing for fail naming them", "[runtime][api]") {
  SandboxHarness h(std::map<std::string, std::string>{{"index.js", R"(
    exports.processEvent = async (e, meta) => {
      const errors = []
      for (const use of [() => meta.cache.get('k'), () => meta.geoip.locate('1.1.1.1'), () => posthog.capture('x'),
                         () => posthog.api.get('/api/projects/@current/')]) {
        try { await use() } catch (err) { errors.push(err.message) }
      }
      console.log(posthog)
      e.properties.errors = errors
      return e
    }
  )"}});
  auto out = h.process_event(R"({"event":"e","team_id":1,"properties":{}})");
  REQUIRE(out.ok());
  auto errors = nlohmann::json::parse(*out.value)["properties"]["errors"];
  // This sandbox has no Redis and no GeoIP database behind it.
  CHECK(errors == nlohmann::json::array({"meta.cache is not available here: the daemon has no Redis",
                                         "meta.geoip is not available here: the daemon has no GeoIP database (geoip.mmdb_path)",
                                         "posthog.capture: the daemon has no broker to send events to",
                                         "posthog.api is not available here"}));
}
