// structuredClone, queueMicrotask, performance.now, and the modules an app
// may import.

#include <catch2/catch.hpp>

#include "tests/support/js_oracle.h"
#include "tests/support/sandbox_harness.h"

using ps::test::in_node;
using ps::test::in_sandbox;

TEST_CASE("api globals: structuredClone copies deeply, with cycles and built-in types", "[runtime][api]") {
  std::string body = R"(
    const original = { n: 1, list: [1, { deep: true }], when: new Date(0), map: new Map([['k', 'v']]), set: new Set([1]),
                       bytes: new Uint8Array([1, 2]), re: /a+/g }
    original.self = original
    const copy = structuredClone(original)
    copy.list[1].deep = false
    return [original.list[1].deep, copy.self === copy, copy.when instanceof Date, copy.when.getTime(), copy.map.get('k'),
            copy.set.has(1), Array.from(copy.bytes), copy.re.source, copy !== original]
  )";
  CHECK(in_sandbox(body) == in_node(body));
  auto refused = "try { structuredClone({ f() {} }); return 'cloned' } catch (e) { return e.name }";
  CHECK(in_sandbox(refused) == "\"TypeError\"");
}

TEST_CASE("api globals: queueMicrotask runs before the next task, performance.now moves forward", "[runtime][api]") {
  std::string body = R"(
    const order = []
    queueMicrotask(() => order.push('micro'))
    order.push('sync')
    await null
    const t0 = performance.now()
    let spin = 0
    while (performance.now() === t0) spin++
    return [order, performance.now() > t0, typeof performance.timeOrigin]
  )";
  CHECK(in_sandbox(body) == in_node(body));
}

TEST_CASE("api globals: an import the daemon does not provide fails at load, naming what is available",
          "[runtime][api]") {
  auto err = ps::test::sandbox_load_error({{"index.js", "const fs = require('fs')\nexports.processEvent = (e) => e\n"}});
  CHECK(err.find("cannot import \"fs\": only files of the bundle and these modules can be imported: "
                 "@posthog/plugin-scaffold, node-fetch, url, buffer, crypto, zlib") != std::string::npos);
}
