// meta.cache and meta.utils.cursor against a real Redis: every call as the
// reference plugin server answered it, keys scoped to the instance, TTLs,
// the value cap, and Redis going away and coming back.

#include <catch2/catch.hpp>

#include <thread>

#include "tests/support/runtime_harness.h"
#include "tests/support/test_redis.h"

using ps::test::RedisProbe;
using ps::test::RuntimeHarness;
using json = nlohmann::json;

namespace {

// An app whose processEvent runs `body` (with `cache`, `cursor` and `out` in
// scope) and returns what it put in `out`.
std::string app_running(const std::string& body) {
  return R"(
    export async function processEvent(e, { cache, utils: { cursor } }) {
      const out = {}
      const attempt = async (f) => { try { return await f() } catch (err) { return err.name + ': ' + err.message } }
      )" + body + R"(
      e.properties.out = out
      return e
    })";
}

json run(RuntimeHarness& h, long long team) {
  return h.run_chain(team, R"({"event":"e","team_id":)" + std::to_string(team) + R"(,"properties":{}})")["event"]["properties"]["out"];
}

// The Redis key prefix of `instance`'s keys.
std::string redis_prefix(RuntimeHarness& h, long long instance) {
  return h.options().redis_key_prefix + "app:" + std::to_string(instance) + ":";
}

}  // namespace

TEST_CASE("cache: every call answers as the reference's cache did", "[runtime][cache]") {
  RuntimeHarness h;
  auto app = h.write_app("cacher", {{"index.js", app_running(R"(
      out.missing = await cache.get('nothing', 'the default')
      out.missingNoDefault = await cache.get('nothing')
      out.set = await cache.set('obj', { n: 1, list: ['a', 2], nested: { ok: true } })
      out.obj = await cache.get('obj')
      await cache.set('raw', 'plain text', undefined, { jsonSerialize: false })
      out.rawText = await cache.get('raw', null, { jsonSerialize: false })
      out.rawAsJson = await cache.get('raw')
      out.incr = [await cache.incr('n'), await cache.incr('n'), await cache.incr('n')]
      out.incrOnText = await attempt(() => cache.incr('obj'))
      out.lpush = [await cache.lpush('list', 'a'), await cache.lpush('list', ['b', 'c', 3])]
      out.lrange = await cache.lrange('list', 0, -1)
      out.llen = await cache.llen('list')
      out.lrem = await cache.lrem('list', 1, 'b')
      out.lpop = await cache.lpop('list', 2)
      out.lpopEmpty = await cache.lpop('nothing', 1)
      out.after = await cache.lrange('list', 0, -1)
      out.expireMissing = await cache.expire('nothing', 10)
      out.expire = await cache.expire('obj', 100)
      out.notJson = await attempt(() => cache.set('k', undefined))
      await cursor.init('c', 5)
      await cursor.init('c', 100)
      out.cursor = [await cursor.increment('c'), await cursor.increment('c', 10)]
      await cursor.init('fresh')
      out.fresh = await cursor.increment('fresh')
      out.sameNameInCache = await cache.get('c', 'not a cursor')
  )")}});
  h.load({RuntimeHarness::entry(app, {1})});
  auto id = h.only_instance().id();
  auto out = run(h, 1);
  CHECK(out["missing"] == "the default");
  CHECK(out.contains("missingNoDefault") == false);  // undefined
  CHECK(out.contains("set") == false);
  CHECK(out["obj"] == json::parse(R"({"n":1,"list":["a",2],"nested":{"ok":true}})"));
  CHECK(out["rawText"] == "plain text");
  CHECK(out["rawAsJson"] == nullptr);  // not JSON: null, as the reference
  CHECK(out["incr"] == json::array({1, 2, 3}));
  CHECK(out["incrOnText"] == "Error: meta.cache: ERR value is not an integer or out of range");
  CHECK(out["lpush"] == json::array({1, 4}));
  CHECK(out["lrange"] == json::array({"3", "c", "b", "a"}));
  CHECK(out["llen"] == 4);
  CHECK(out["lrem"] == 1);
  CHECK(out["lpop"] == json::array({"3", "c"}));
  CHECK(out["lpopEmpty"] == nullptr);
  CHECK(out["after"] == json::array({"a"}));
  CHECK(out["expireMissing"] == false);
  CHECK(out["expire"] == true);
  CHECK(out["notJson"] == "TypeError: meta.cache.set: the value is not JSON-serialisable");
  CHECK(out["cursor"] == json::array({6, 16}));
  CHECK(out["fresh"] == 1);
  CHECK(out["sameNameInCache"] == "not a cursor");

  // What Redis holds: JSON text under the instance's prefix, with the TTL set.
  RedisProbe redis;
  auto prefix = redis_prefix(h, id);
  CHECK(redis.command({"GET", prefix + "cache:obj"}).text == R"({"n":1,"list":["a",2],"nested":{"ok":true}})");
  CHECK(redis.command({"GET", prefix + "cursor:c"}).text == "16");
  auto ttl = redis.command({"TTL", prefix + "cache:obj"}).integer;
  CHECK(ttl > 0);
  CHECK(ttl <= 100);
  CHECK(h.metrics().render().find("plugin_server_redis_commands_total ") != std::string::npos);
}

TEST_CASE("cache: one instance never sees another's keys", "[runtime][cache]") {
  RuntimeHarness h;
  auto app = h.write_app("scoped", {{"index.js", R"(
    export async function processEvent(e, { cache }) {
      if (e.properties.write) await cache.set('shared-name', e.team_id)
      e.properties.seen = await cache.get('shared-name', 'nothing')
      return e
    })"}});
  h.load({RuntimeHarness::entry(app, {1, 2})});
  auto seen = [&](long long team, bool write) {
    auto event = json{{"event", "e"}, {"team_id", team}, {"properties", {{"write", write}}}};
    return h.run_chain(team, event.dump())["event"]["properties"]["seen"];
  };
  CHECK(seen(1, true) == 1);
  CHECK(seen(2, false) == "nothing");
  CHECK(seen(2, true) == 2);
  CHECK(seen(1, false) == 1);
  // In Redis: one key under each instance's own prefix.
  RedisProbe redis;
  auto keys = redis.command({"KEYS", h.options().redis_key_prefix + "*"}).list;
  REQUIRE(keys.size() == 2);
  CHECK(*keys[0] != *keys[1]);
  for (const auto& key : keys) CHECK(key->find(":cache:shared-name") != std::string::npos);
}

TEST_CASE("cache: a value set with a TTL is gone after it", "[runtime][cache]") {
  RuntimeHarness h;
  auto app = h.write_app("ttl", {{"index.js", R"(
    export async function processEvent(e, { cache }) {
      if (e.properties.set) {
        await cache.set('short', 'v', 1)
        await cache.set('kept', 'v')
        await cache.set('expiring', 'v')
        await cache.expire('expiring', 1)
      }
      e.properties.out = [await cache.get('short', 'gone'), await cache.get('kept', 'gone'), await cache.get('expiring', 'gone')]
      return e
    })"}});
  h.load({RuntimeHarness::entry(app, {1})});
  auto read = [&](bool set) {
    auto event = json{{"event", "e"}, {"team_id", 1}, {"properties", {{"set", set}}}};
    return h.run_chain(1, event.dump())["event"]["properties"]["out"];
  };
  CHECK(read(true) == json::array({"v", "v", "v"}));
  // Redis expires a key once its TTL has passed; 1.5 s is past 1 s whatever the load.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(read(false) == json::array({"gone", "v", "gone"}));
}

TEST_CASE("cache: a call over redis.max_value_bytes is refused before it reaches Redis", "[runtime][cache][quota]") {
  auto options = RuntimeHarness::fast_options();
  options.max_cache_value_bytes = 1000;
  RuntimeHarness h(options);
  auto app = h.write_app("big", {{"index.js", app_running(R"(
      out.small = await attempt(() => cache.set('k', 'x'.repeat(900)))
      out.big = await attempt(() => cache.set('k', 'x'.repeat(1000)))
      out.manyItems = await attempt(() => cache.lpush('l', Array(200).fill('xxxxxx')))
      out.kept = (await cache.get('k')).length
      out.list = await cache.llen('l')
  )")}});
  h.load({RuntimeHarness::entry(app, {1})});
  auto out = run(h, 1);
  CHECK(out["small"] == nullptr);
  CHECK(out["big"] ==
        "RangeError: meta.cache: the key and values of this call are over the limit of 1000 bytes (redis.max_value_bytes)");
  CHECK(out["manyItems"] == out["big"]);
  CHECK(out["kept"] == 900);
  CHECK(out["list"] == 0);
  CHECK(h.metrics().render().find("plugin_server_app_quota_refusals_total{app=\"big\",quota=\"cache_value_bytes\"} 2") !=
        std::string::npos);
}

TEST_CASE("cache: with Redis down calls reject naming it, and work again once it is back", "[runtime][cache][outage]") {
  ps::test::PrivateRedis server;
  auto options = RuntimeHarness::fast_options();
  auto endpoint = ps::config::parse_redis_url(server.url());
  options.redis->endpoint = std::get<ps::config::RedisEndpoint>(endpoint);
  options.redis->display = server.url();
  RuntimeHarness h(options);
  auto app = h.write_app("outage", {{"index.js", app_running(R"(
      out.n = await attempt(() => cache.incr('n'))
  )")}});
  h.load({RuntimeHarness::entry(app, {1})});
  CHECK(run(h, 1)["n"] == 1);
  server.stop();
  auto failed = run(h, 1)["n"].get<std::string>();
  CHECK(failed.find("Error: meta.cache: Redis is unreachable at " + server.url() + ": ") == 0);
  CHECK(h.metrics().render().find("plugin_server_redis_up 0") != std::string::npos);
  server.start();
  // A fresh server (the old one kept nothing): the count starts again. The
  // client waits a moment between connection attempts, so poll.
  json n;
  for (int i = 0; i < 100; ++i) {
    n = run(h, 1)["n"];
    if (n.is_number()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(n == 1);
  CHECK(h.metrics().render().find("plugin_server_redis_up 1") != std::string::npos);
}
