// Apps written to take the daemon down: each case once killed or hung the
// process. Now each fails only its own call (or load), within the limits,
// and the next call works.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "runtime/http_fetcher.h"
#include "server/http_server.h"
#include "tests/support/sandbox_harness.h"

using ps::runtime::Failure;
using ps::test::SandboxHarness;
using ps::test::sandbox_load_error;
using nlohmann::json;

namespace {

std::map<std::string, std::string> app(const std::string& index_js) { return {{"index.js", index_js}}; }

ps::runtime::Limits short_limits() {
  ps::runtime::Limits limits;
  limits.cpu = std::chrono::milliseconds(300);
  limits.wall = std::chrono::milliseconds(2000);
  limits.heap_bytes = 32u << 20;
  return limits;
}

}  // namespace

TEST_CASE("hostile apps: exports that throw, loop or lie fail the load, not the process", "[runtime][hostile]") {
  auto limits = short_limits();
  CHECK(sandbox_load_error(app(R"(
    const jobs = {}
    Object.defineProperty(jobs, 'a', { get() { throw new Error('getter says no') }, enumerable: true })
    export { jobs }
  )"), limits).find("reading the module's exports failed: Error: getter says no") != std::string::npos);
  CHECK(sandbox_load_error(app(R"(
    export const jobs = new Proxy({}, { ownKeys() { throw new TypeError('no keys for you') } })
  )"), limits).find("TypeError: no keys for you") != std::string::npos);
  CHECK(sandbox_load_error(app(R"(
    const jobs = {}
    Object.defineProperty(jobs, 'a', { get() { for (;;) {} }, enumerable: true })
    export { jobs }
  )"), limits).find("broke a limit: exceeded the CPU time limit of 300 ms") != std::string::npos);
  // The prelude reads the jobs too (to bind meta.jobs): a getter that loops only the second time.
  CHECK(sandbox_load_error(app(R"(
    let reads = 0
    const jobs = {}
    Object.defineProperty(jobs, 'a', { get() { if (++reads > 1) for (;;) {} return () => 1 }, enumerable: true })
    export { jobs }
  )"), limits).find("building meta broke a limit") != std::string::npos);
  CHECK(sandbox_load_error(app("for (;;) {}"), limits).find("loading the module broke a limit") != std::string::npos);
}

TEST_CASE("hostile apps: a thrown value is described without running its code", "[runtime][hostile]") {
  SandboxHarness h(app(R"(
    const evil = { toString() { for (;;) {} }, [Symbol.toPrimitive]() { for (;;) {} } }
    export function onEvent() { throw evil }
    export async function runEveryMinute() { throw evil }
    export function runEveryHour() { const e = new Error('x'); Object.defineProperty(e, 'message', { get() { for (;;) {} } }); throw e }
    export function runEveryDay() { throw 'plain text' }
  )"), short_limits());
  auto sync = h.call("onEvent", {"{}"});
  CHECK(sync.failure == Failure::Error);
  CHECK(sync.error == "[object Object]");
  auto async = h.call("runEveryMinute");
  CHECK(async.failure == Failure::Error);
  CHECK(async.error == "[object Object]");
  auto getter = h.call("runEveryHour");
  CHECK(getter.failure == Failure::Error);
  CHECK(getter.error == "Error");
  CHECK(h.call("runEveryDay").error == "plain text");
}

TEST_CASE("hostile apps: one allocation past the heap limit fails the call, at load too", "[runtime][hostile]") {
  auto limits = short_limits();
  // So that only the heap limit can fire, however loaded the machine.
  limits.cpu = std::chrono::milliseconds(60000);
  SandboxHarness h(app("export function onEvent() { globalThis.keep = new Array(2 ** 25).fill(1.5) }"), limits);
  auto out = h.call("onEvent", {"{}"});
  CHECK(out.failure == Failure::HeapLimit);
  CHECK(out.error == "exceeded the heap limit of 32 MiB");
  CHECK(h.broken());
  CHECK(sandbox_load_error(app("globalThis.keep = new Array(2 ** 25).fill(1.5)"), limits) ==
        "test-app: loading the module broke a limit: exceeded the heap limit of 32 MiB");
}

TEST_CASE("hostile apps: no code from strings, no shared memory", "[runtime][hostile]") {
  SandboxHarness h(app(R"(
    export function processEvent(e) {
      const tries = {
        eval: () => eval('1 + 1'),
        Function: () => new Function('return 1')(),
        indirect: () => (0, eval)('2'),
        sharedArrayBuffer: () => typeof SharedArrayBuffer === 'undefined' ? 'absent' : 'present',
        atomics: () => typeof Atomics === 'undefined' ? 'absent' : 'present',
        wasm: () => typeof WebAssembly === 'undefined' ? 'absent' : 'present',
      }
      e.properties.out = {}
      for (const [name, fn] of Object.entries(tries)) {
        try { e.properties.out[name] = fn() } catch (err) { e.properties.out[name] = err.name }
      }
      return e
    }
  )"));
  auto out = h.process_event(R"({"team_id":1,"properties":{}})");
  REQUIRE(out.ok());
  CHECK(json::parse(*out.value)["properties"]["out"] == json({{"eval", "EvalError"}, {"Function", "EvalError"},
                                                             {"indirect", "EvalError"}, {"sharedArrayBuffer", "absent"},
                                                             {"atomics", "absent"}, {"wasm", "absent"}}));
}

TEST_CASE("hostile apps: team_id is checked on the returned text, whatever the app does", "[runtime][hostile]") {
  SandboxHarness h(app(R"(
    export function processEvent(e) {
      if (e.event === 'toJSON') e.toJSON = () => ({ ...e, toJSON: undefined, team_id: 99 })
      if (e.event === 'stringify') JSON.stringify = () => '{"team_id":2}'
      if (e.event === 'getter') Object.defineProperty(e, 'team_id', { get: () => 99, enumerable: true })
      if (e.event === 'string') e.team_id = '2'
      if (e.event === 'deep') { let x = {}; e.properties.deep = x; for (let i = 0; i < 1000; i++) x = x.a = {} }
      return e
    }
  )"));
  for (const char* name : {"toJSON", "getter"}) {
    auto out = h.process_event(std::string(R"({"team_id":2,"properties":{},"event":")") + name + "\"}");
    INFO(name);
    CHECK(out.failure == Failure::Error);
    CHECK(out.error == "processEvent may not change team_id (from 2 to 99)");
  }
  CHECK(h.process_event(R"({"team_id":2,"event":"string"})").error ==
        "processEvent may not change team_id (from 2 to \"2\")");
  // A replaced JSON.stringify is not the one the runtime serialises with.
  auto replaced = h.process_event(R"({"team_id":2,"event":"stringify","properties":{"kept":1}})");
  REQUIRE(replaced.ok());
  CHECK(json::parse(*replaced.value)["properties"]["kept"] == 1);
  CHECK(h.process_event(R"({"team_id":2,"event":"deep","properties":{}})").error ==
        "processEvent returned an event that is nested deeper than 512 levels");
  CHECK(h.process_event(R"({"team_id":2,"event":"fine"})").ok());
}

TEST_CASE("hostile apps: patched prototypes around fetch cannot kill the host", "[runtime][hostile]") {
  ps::server::HttpRoutes routes;
  routes.insert(ps::server::get_route("/ok", [] { return ps::server::HttpResponse{200, "application/json", "{\"a\":1}"}; }));
  ps::server::HttpServer server("127.0.0.1", 0, std::move(routes));
  ps::runtime::FetchOptions options;
  options.allowed_hosts = {"127.0.0.1"};
  ps::runtime::BeastFetcher fetcher(options);
  ps::runtime::HostServices host;
  host.http = &fetcher;
  // Each case in a fresh isolate: the patches would leak into the next one.
  auto run = [&](const std::string& event) {
    SandboxHarness h({{"index.js", "const base = 'http://127.0.0.1:" + std::to_string(server.port()) + R"('
      export async function processEvent(e) {
        let result
        const attempt = async (what, fn) => {
          try { const r = await fn(); result = what + ': ' + r.status } catch (err) { result = what + ': ' + err.name }
        }
        if (e.event === 'setters') {
          for (const name of ['status', 'statusText', 'headers', 'body', 'url', '0', '1', 'then'])
            Object.defineProperty(Object.prototype, name, { set() { throw new Error('setter') }, configurable: true })
          Object.defineProperty(Array.prototype, '0', { set() { throw new Error('setter') }, configurable: true })
          await attempt('setters', () => fetch(base + '/ok'))
        }
        if (e.event === 'entries') {
          Map.prototype.entries = function* () { yield 'not a pair'; yield [1, {}] }
          await attempt('entries', () => fetch(base + '/ok', { headers: { a: 'b' } }))
        }
        if (e.event === 'then') {
          Object.prototype.then = function () { for (;;) {} }
          await attempt('then', () => fetch(base + '/ok'))
        }
        e.properties = { result }
        return e
      }
    )"}}, short_limits(), host);
    return h.process_event(R"({"team_id":1,"event":")" + event + "\"}");
  };
  // The host builds the response without running the app's setters; the
  // prelude's Response, beside the app, meets them and rejects.
  auto setters = run("setters");
  REQUIRE(setters.ok());
  CHECK(json::parse(*setters.value)["properties"]["result"] == "setters: Error");
  auto entries = run("entries");
  REQUIRE(entries.ok());
  CHECK(json::parse(*entries.value)["properties"]["result"] == "entries: TypeError");
  // A `then` on every object loops when anything resolves: the CPU limit stops it.
  CHECK(run("then").failure == Failure::CpuLimit);
}

TEST_CASE("hostile apps: job times past the clocks' range are refused", "[runtime][hostile][jobs]") {
  struct Sink : ps::runtime::JobSink {
    void enqueue(ps::runtime::JobRequest, std::function<void(std::optional<std::string>)> done) override {
      done(std::nullopt);
    }
  } sink;
  ps::runtime::HostServices host;
  host.jobs = &sink;
  SandboxHarness h(app(R"(
    export const jobs = { j: () => {} }
    export async function processEvent(e, { jobs }) {
      const out = []
      for (const when of [() => jobs.j().runAt(new Date(8.64e15)), () => jobs.j().runIn(9000, 'years'),
                          () => jobs.j().runAt(new Date('2262-04-12T00:00:00Z')), () => jobs.j().runIn(1, 'year')]) {
        try { await when(); out.push('ok') } catch (err) { out.push(err.name) }
      }
      e.properties = { out }
      return e
    }
  )"), {}, host);
  auto out = h.process_event(R"({"team_id":1})");
  REQUIRE(out.ok());
  CHECK(json::parse(*out.value)["properties"]["out"] == json::array({"RangeError", "RangeError", "ok", "ok"}));
}
