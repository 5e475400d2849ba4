#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "runtime/code_cache.h"
#include "tests/support/sandbox_harness.h"

using namespace std::chrono_literals;
using ps::runtime::Failure;
using ps::test::SandboxHarness;

namespace {
std::map<std::string, std::string> app(const std::string& index_js) { return {{"index.js", index_js}}; }
nlohmann::json parse(const std::optional<std::string>& text) { return nlohmann::json::parse(text.value()); }
}  // namespace

TEST_CASE("sandbox: exports are detected", "[runtime][sandbox]") {
  SandboxHarness h(app(R"(
    export function setupPlugin() {}
    export async function processEvent(e) { return e }
    export function runEveryHour() {}
    export const jobs = { a: () => 1, b: async (p, meta) => 2, notAJob: 3 }
    export const somethingElse = 1
  )"));
  auto e = h.exports();
  CHECK(e.methods == std::vector<std::string>{"setupPlugin", "processEvent", "runEveryHour"});
  CHECK(e.jobs == std::vector<std::string>{"a", "b"});
  CHECK(e.scheduled_tasks == std::vector<std::string>{"runEveryHour"});
}

TEST_CASE("sandbox: sync and async hooks get their arguments and meta", "[runtime][sandbox]") {
  SandboxHarness h(app(R"(
    export function setupPlugin(meta) { meta.global.calls = 0; meta.global.greeting = meta.config.greeting }
    export function onEvent(event, meta) { meta.global.calls++; console.log('saw', event.event, meta.global.calls) }
    export async function runEveryMinute(meta) {
      await null
      console.info(`${meta.global.greeting} after ${meta.global.calls}`)
    }
  )"), {}, {}, R"({"greeting":"hi"})");
  REQUIRE(h.call("setupPlugin").ok());
  REQUIRE(h.call("onEvent", {R"({"event":"$pageview"})"}).ok());
  REQUIRE(h.call("onEvent", {R"({"event":"$pageview"})"}).ok());
  REQUIRE(h.call("runEveryMinute").ok());
  CHECK(h.logs() == std::vector<std::string>{"log: saw $pageview 1", "log: saw $pageview 2", "info: hi after 2"});
}

TEST_CASE("sandbox: a throwing hook fails that call with the error, and the next call works", "[runtime][sandbox]") {
  SandboxHarness h(app(R"(
    let n = 0
    export function onEvent() { n++; if (n === 1) throw new TypeError('bad thing') }
    export async function runEveryDay() { throw new Error('async bad') }
  )"));
  auto first = h.call("onEvent", {"{}"});
  CHECK(first.failure == Failure::Error);
  CHECK(first.error == "TypeError: bad thing");
  CHECK(h.call("onEvent", {"{}"}).ok());
  auto async = h.call("runEveryDay");
  CHECK(async.failure == Failure::Error);
  CHECK(async.error == "Error: async bad");
}

TEST_CASE("sandbox: processEvent transforms, drops and records success", "[runtime][sandbox]") {
  SandboxHarness h(app(R"(
    export async function processEvent(event) {
      if (event.event === 'drop me') return null
      if (event.event === 'undefined') return
      event.properties.seen = true
      return event
    }
  )"));
  auto out = h.process_event(R"({"event":"e","team_id":2,"properties":{"a":1}})");
  REQUIRE(out.ok());
  auto event = parse(out.value);
  CHECK(event["properties"]["seen"] == true);
  CHECK(event["properties"]["$plugins_succeeded"] == nlohmann::json::array({"test-app (1)"}));
  CHECK_FALSE(h.process_event(R"({"event":"drop me","team_id":2})").value);
  CHECK(h.process_event(R"({"event":"drop me","team_id":2})").ok());
  CHECK_FALSE(h.process_event(R"({"event":"undefined","team_id":2})").value);
}

TEST_CASE("sandbox: processEvent may not change team_id or return a non-event", "[runtime][sandbox]") {
  SandboxHarness h(app(R"(
    export function processEvent(event) {
      if (event.event === 'steal') { event.team_id = 99; return event }
      return 'nope'
    }
  )"));
  auto steal = h.process_event(R"({"event":"steal","team_id":2})");
  CHECK(steal.failure == Failure::Error);
  CHECK(steal.error.find("may not change team_id (from 2 to 99)") != std::string::npos);
  auto bad = h.process_event(R"({"event":"x","team_id":2})");
  CHECK(bad.failure == Failure::Error);
  CHECK(bad.error.find("must return an event object") != std::string::npos);
}

TEST_CASE("sandbox: relative imports work, anything else is refused by name", "[runtime][sandbox]") {
  SandboxHarness h({{"index.js", "import { double } from './lib/math.js'\nimport { three } from './lib/three'\n"
                                 "export function processEvent(e) { e.properties.n = double(three); return e }"},
                    {"lib/math.js", "export const double = (x) => x * 2"},
                    {"lib/three.js", "export const three = 3"}});
  auto out = h.process_event(R"({"team_id":1,"properties":{}})");
  CHECK(parse(out.value)["properties"]["n"] == 6);

  auto err = ps::test::sandbox_load_error(app("import fs from 'fs'\nexport function processEvent(e) { return e }"));
  CHECK(err.find("test-app/index.js: cannot import \"fs\": only files of the bundle and these modules can be "
                 "imported: @posthog/plugin-scaffold, node-fetch, url, buffer, crypto, zlib") != std::string::npos);
  auto missing = ps::test::sandbox_load_error(app("import { x } from './nope.js'\n"));
  CHECK(missing.find("cannot import \"./nope.js\": no such file in the bundle") != std::string::npos);
}

TEST_CASE("sandbox: a syntax error names the file, line and column", "[runtime][sandbox]") {
  auto err = ps::test::sandbox_load_error(app("export function processEvent(e) {\n  return e +\n}\n"));
  CHECK(err.find("test-app/index.js:3:1: SyntaxError") != std::string::npos);
  auto in_import = ps::test::sandbox_load_error({{"index.js", "import './bad.js'\n"}, {"bad.js", "let = ;"}});
  CHECK(in_import.find("test-app/bad.js:1:") != std::string::npos);
}

TEST_CASE("sandbox: a module that throws while loading is reported", "[runtime][sandbox]") {
  auto err = ps::test::sandbox_load_error(app("throw new Error('no config')\n"));
  CHECK(err.find("test-app: loading the module failed: Error: no config") != std::string::npos);
}

TEST_CASE("sandbox: no filesystem or process, and require reaches only the bundle and the daemon's modules", "[runtime][sandbox]") {
  SandboxHarness h(app(R"(
    export function processEvent(e) {
      e.properties.kinds = [typeof process, typeof require, typeof Deno, typeof WebAssembly, typeof fetch, typeof URL]
      return e
    }
  )"));
  auto event = parse(h.process_event(R"({"team_id":1,"properties":{}})").value);
  CHECK(event["properties"]["kinds"] ==
        nlohmann::json::array({"undefined", "function", "undefined", "undefined", "function", "function"}));
}

TEST_CASE("sandbox: an endless loop breaks the CPU limit, the isolate then works on", "[runtime][sandbox][limits]") {
  ps::runtime::Limits limits;
  limits.cpu = 200ms;
  SandboxHarness h(app(R"(
    export function onEvent(e) { if (e.loop) { while (true) {} } }
    export async function runEveryDay() { await null; while (true) {} }
  )"), limits);
  auto out = h.call("onEvent", {R"({"loop":true})"});
  CHECK(out.failure == Failure::CpuLimit);
  CHECK(out.error == "exceeded the CPU time limit of 200 ms");
  CHECK(h.call("onEvent", {"{}"}).ok());
  CHECK_FALSE(h.broken());
  auto async = h.call("runEveryDay");
  CHECK(async.failure == Failure::CpuLimit);
}

TEST_CASE("sandbox: a promise that never settles breaks the wall-clock limit", "[runtime][sandbox][limits]") {
  ps::runtime::Limits limits;
  limits.wall = 300ms;
  SandboxHarness h(app(R"(
    export function runEveryMinute() { return new Promise(() => {}) }
    export function onEvent() {}
  )"), limits);
  auto out = h.call("runEveryMinute");
  CHECK(out.failure == Failure::WallLimit);
  CHECK(out.error == "did not settle within the time limit of 300 ms");
  // Its owner replaces it, which ends whatever the abandoned call would still do.
  CHECK(h.broken());
}

TEST_CASE("sandbox: a runaway allocation breaks the heap limit and marks the isolate broken",
          "[runtime][sandbox][limits]") {
  ps::runtime::Limits limits;
  limits.heap_bytes = 32u << 20;
  SandboxHarness h(app(R"(
    export function onEvent() { const hoard = []; while (true) hoard.push({ a: [1, 2, 3], s: 'x'.repeat(64) + hoard.length }) }
  )"), limits);
  auto out = h.call("onEvent", {"{}"});
  CHECK(out.failure == Failure::HeapLimit);
  CHECK(out.error == "exceeded the heap limit of 32 MiB");
  CHECK(h.broken());
}

TEST_CASE("sandbox: ArrayBuffer memory is capped too", "[runtime][sandbox][limits]") {
  ps::runtime::Limits limits;
  limits.heap_bytes = 32u << 20;
  SandboxHarness h(app(R"(
    export function onEvent() { const keep = []; for (let i = 0; i < 100; i++) keep.push(new ArrayBuffer(1 << 20)) }
  )"), limits);
  auto out = h.call("onEvent", {"{}"});
  CHECK(out.failure == Failure::Error);
  CHECK(out.error.find("exceeded the ArrayBuffer memory limit of 32 MiB") != std::string::npos);
  CHECK_FALSE(h.broken());
}

TEST_CASE("sandbox: URL and URLSearchParams", "[runtime][sandbox]") {
  SandboxHarness h(app(R"(
    export function processEvent(e) {
      const u = new URL('HTTPS://user:pw@Example.com:443/a/b/../c?x=1&y=two%20words#frag')
      u.searchParams.append('z', 'a b')
      e.properties.url = [u.protocol, u.hostname, u.port, u.pathname, u.searchParams.get('y'), u.hash, u.href]
      e.properties.rel = new URL('../d?q=1', 'http://h:8080/a/b/c').href
      let threw = false
      try { new URL('not a url') } catch (err) { threw = err instanceof TypeError }
      e.properties.threw = threw
      return e
    }
  )"));
  auto p = parse(h.process_event(R"({"team_id":1,"properties":{}})").value)["properties"];
  CHECK(p["url"] == nlohmann::json::array({"https:", "example.com", "", "/a/c", "two words", "#frag",
                                           "https://user:pw@example.com/a/c?x=1&y=two+words&z=a+b#frag"}));
  CHECK(p["rel"] == "http://h:8080/a/d?q=1");
  CHECK(p["threw"] == true);
}

TEST_CASE("sandbox: host services that are not wired in reject clearly", "[runtime][sandbox]") {
  SandboxHarness h(app(R"(
    export const jobs = { later: () => {} }
    export async function processEvent(e, { storage, jobs }) {
      const errors = []
      for (const attempt of [() => fetch('http://127.0.0.1:1/'), () => storage.get('k'), () => jobs.later(1).runNow()]) {
        try { await attempt(); errors.push('resolved') } catch (err) { errors.push(err.constructor.name + ': ' + err.message) }
      }
      e.properties.errors = errors
      return e
    }
  )"));
  auto errors = parse(h.process_event(R"({"team_id":1,"properties":{}})").value)["properties"]["errors"];
  CHECK(errors == nlohmann::json::array({"TypeError: fetch is not available here", "Error: storage is not available here",
                                         "Error: jobs are not available here"}));
}

TEST_CASE("sandbox: isolates share compiled code through the code cache, and bad cached code is only recompiled",
          "[runtime][sandbox]") {
  const std::string code = "var seen = 0\nfunction processEvent(e) { e.properties.seen = ++seen; return e }\n";
  std::map<std::string, std::string> files = {{"index.js", code}};
  ps::runtime::CodeCache cache;
  {
    SandboxHarness first(files, {}, {}, "{}", &cache);
    CHECK(parse(first.process_event(R"({"team_id":1,"properties":{}})").value)["properties"]["seen"] == 1);
  }
  // The prelude's code and the app's.
  CHECK(cache.size() == 2);
  SandboxHarness second(files, {}, {}, "{}", &cache);
  CHECK(parse(second.process_event(R"({"team_id":1,"properties":{}})").value)["properties"]["seen"] == 1);

  ps::runtime::CodeCache spoiled;
  spoiled.store(ps::runtime::CodeCache::key("test-app/index.js", code), std::string(4096, 'x'));
  SandboxHarness third(files, {}, {}, "{}", &spoiled);
  CHECK(parse(third.process_event(R"({"team_id":1,"properties":{}})").value)["properties"]["seen"] == 1);
  // A changed file has another key: it is compiled, not given the old code.
  CHECK(ps::runtime::CodeCache::key("test-app/index.js", code) != ps::runtime::CodeCache::key("test-app/index.js", code + " "));
}

TEST_CASE("sandbox: the CPU limit bounds a loop, while an async call may wait longer than it, within its wall limit",
          "[runtime][sandbox][limits]") {
  ps::runtime::Limits limits;
  limits.cpu = 200ms;
  limits.wall = 10s;
  SandboxHarness h(app(R"(
    export async function onEvent(e) {
      if (e.loop) { while (true) {} }
      await new Promise((resolve) => setTimeout(resolve, 600))
      return 'waited'
    }
  )"), limits);
  auto looped = h.call("onEvent", {R"({"loop":true})"});
  CHECK(looped.failure == Failure::CpuLimit);
  CHECK(looped.error == "exceeded the CPU time limit of 200 ms");
  auto waited = h.call("onEvent", {"{}"});
  CHECK(waited.ok());
  CHECK(waited.value == std::optional<std::string>("waited"));
}
