// The zlib module: what it makes Node can read and the other way round, and
// a decompression bomb stops at the app's memory limit.

#include <catch2/catch.hpp>

#include "tests/support/js_oracle.h"

using ps::test::in_node;
using ps::test::in_sandbox;

TEST_CASE("api zlib: each format round-trips, and Node's output inflates to the same text", "[runtime][api]") {
  std::string body = R"(
    const zlib = require('zlib')
    const text = 'hello hello hello hello ✓'.repeat(20)
    const out = []
    for (const [pack, unpack] of [['gzipSync', 'gunzipSync'], ['deflateSync', 'inflateSync'], ['deflateRawSync', 'inflateRawSync']]) {
      out.push(zlib[unpack](zlib[pack](text)).toString() === text)
      out.push(zlib[pack](text, { level: 9 }).length < text.length)
    }
    out.push(zlib.unzipSync(zlib.gzipSync('a')).toString(), zlib.unzipSync(zlib.deflateSync('b')).toString())
    // Node made these: gzip and deflate of "plugin-server".
    out.push(zlib.gunzipSync(Buffer.from('H4sIAAAAAAAAAyvIKU3PzNMtTi0qSy0CAEhT8lQNAAAA', 'base64')).toString())
    out.push(zlib.inflateSync(Buffer.from('eJwryClNz8zTLU4tKkstAgAlRwVU', 'base64')).toString())
    out.push(await new Promise((resolve, reject) => zlib.gzip('cb', (err, packed) => err ? reject(err) : resolve(zlib.gunzipSync(packed).toString()))))
    try { zlib.gunzipSync(Buffer.from('not gzip')) } catch (e) { out.push('refused') }
    return out
  )";
  CHECK(in_sandbox(body) == in_node(body));
}

TEST_CASE("api zlib: a decompression bomb fails at the memory limit, and the app goes on", "[runtime][api]") {
  ps::runtime::Limits limits;
  limits.heap_bytes = 64u << 20;
  auto answer = in_sandbox(R"(
    const zlib = require('zlib')
    const bomb = zlib.gzipSync(Buffer.alloc(48 << 20))
    try { zlib.gunzipSync(Buffer.concat([bomb, bomb])); return 'inflated' } catch (e) { return [bomb.length < 100000, e.message] }
  )", limits);
  CHECK(answer == R"([true,"zlib: the result is larger than 64 MiB, the memory limit of this app"])");
}
