// The crypto module and Web Crypto: hashes and HMACs must equal Node's;
// random values are checked for their form.

#include <catch2/catch.hpp>

#include <regex>

#include <nlohmann/json.hpp>

#include "tests/support/js_oracle.h"

using ps::test::in_node;
using ps::test::in_sandbox;

TEST_CASE("api crypto: createHash and createHmac agree with Node for each algorithm and encoding", "[runtime][api]") {
  std::string body = R"(
    const crypto = require('crypto')
    const out = []
    for (const alg of ['md5', 'sha1', 'sha256', 'sha512']) {
      out.push(crypto.createHash(alg).update('The quick brown fox').digest('hex'))
      out.push(crypto.createHash(alg).update('part one, ').update(Buffer.from('part two')).digest('base64'))
      out.push(crypto.createHmac(alg, 'secret key').update('message').digest('hex'))
    }
    out.push(Array.from(crypto.createHash('sha256').update('x').digest()))
    out.push(crypto.createHash('SHA256').update('6869', 'hex').digest('hex'))
    out.push(crypto.createHmac('sha256', Buffer.from([1, 2, 3])).update('').digest('base64'))
    return out
  )";
  CHECK(in_sandbox(body) == in_node(body));
  auto errors = R"(
    const crypto = require('crypto')
    const h = crypto.createHash('sha1'); h.digest()
    const out = []
    try { h.update('more') } catch (e) { out.push(e.message) }
    try { crypto.createHash('nope') } catch (e) { out.push(e.message) }
    return out
  )";
  CHECK(in_sandbox(errors) == in_node(errors));
}

TEST_CASE("api crypto: random values, UUIDs, timingSafeEqual and subtle.digest", "[runtime][api]") {
  auto answer = nlohmann::json::parse(in_sandbox(R"(
    const crypto = require('crypto')
    const a = crypto.randomBytes(16), b = crypto.randomBytes(16)
    const values = crypto.getRandomValues(new Uint32Array(4))
    return { length: a.length, differ: !a.equals(b), isBuffer: Buffer.isBuffer(a), uuid: crypto.randomUUID(),
             webUuid: globalThis.crypto.randomUUID(), filled: values.some((v) => v !== 0),
             same: crypto.timingSafeEqual(Buffer.from('abc'), Buffer.from('abc')),
             different: crypto.timingSafeEqual(Buffer.from('abc'), Buffer.from('abd')) }
  )"));
  CHECK(answer["length"] == 16);
  CHECK(answer["differ"] == true);
  CHECK(answer["isBuffer"] == true);
  std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  CHECK(std::regex_match(answer["uuid"].get<std::string>(), uuid));
  CHECK(std::regex_match(answer["webUuid"].get<std::string>(), uuid));
  CHECK(answer["filled"] == true);
  CHECK(answer["same"] == true);
  CHECK(answer["different"] == false);
  std::string digest = R"(
    const bytes = await crypto.subtle.digest('SHA-256', new TextEncoder().encode('abc'))
    return [bytes instanceof ArrayBuffer, Buffer.from(bytes).toString('hex')]
  )";
  CHECK(in_sandbox(digest) == in_node(digest));
  auto unequal = "require('crypto').timingSafeEqual(Buffer.from('a'), Buffer.from('ab'))";
  CHECK(in_sandbox(unequal) == in_node(unequal));
}
