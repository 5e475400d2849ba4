// Buffer, TextEncoder/TextDecoder, atob/btoa: each snippet's answer in an
// app's sandbox must be Node's.

#include <catch2/catch.hpp>

#include "tests/support/same_as_node.h"

using ps::test::in_sandbox;

using ps::test::same_as_node;

TEST_CASE("api encoding: Buffer converts between strings, base64, hex and bytes as Node does", "[runtime][api]") {
  same_as_node(R"(
    const b = Buffer.from('héllo wörld ✓')
    return [b.length, b.toString('base64'), b.toString('hex'), Buffer.from(b.toString('base64'), 'base64').toString(),
            Buffer.from('68656c6c6f', 'hex').toString('utf8'), Buffer.byteLength('✓✓'), Buffer.isBuffer(b),
            Buffer.isBuffer('x'), Buffer.from([1, 2, 255]).toString('hex'), b.slice(0, 5).toString(), b[1],
            Buffer.concat([Buffer.from('a'), Buffer.from('bc')]).toString(), Buffer.alloc(3, 7).toString('hex'),
            Buffer.from('user:pass').toString('base64'), Buffer.from('abc').equals(Buffer.from('abc'))]
  )");
  same_as_node(R"(
    const b = Buffer.alloc(8)
    b.writeUInt32BE(0xdeadbeef, 0)
    b.writeInt16LE(-2, 4)
    return [b.readUInt32BE(0), b.readInt16LE(4), b.readUInt8(0), b.toString('hex'), b.subarray(2, 4).toString('hex'),
            JSON.stringify(Buffer.from('hi')), Buffer.from('aGk', 'base64').toString(), Buffer.from('a-_b', 'base64url').toString('hex')]
  )");
  same_as_node("const { Buffer: B } = require('buffer'); return B === Buffer");
}

TEST_CASE("api encoding: TextEncoder and TextDecoder are UTF-8, with replacement or a fatal error", "[runtime][api]") {
  same_as_node(R"(
    const bytes = new TextEncoder().encode('a€𝄞')
    return [Array.from(bytes), new TextDecoder().decode(bytes), new TextDecoder('utf-8').encoding,
            new TextDecoder().decode(new Uint8Array([0x61, 0xff, 0x62])), new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x78])),
            new TextDecoder().decode(bytes.buffer), new TextEncoder().encode().length]
  )");
  same_as_node("new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xc3])); return 'no error'");
}

TEST_CASE("api encoding: atob and btoa, and their errors", "[runtime][api]") {
  same_as_node("return [btoa('hello'), btoa(''), btoa('ab'), atob('aGVsbG8='), atob('aGVsbG8'), atob(' aG Vs\\nbG8= '), btoa('\\xff\\xfe')]");
  CHECK(in_sandbox("btoa('✓')") == R"({"threw":"InvalidCharacterError","message":"btoa: the string has characters outside of Latin1"})");
  CHECK(in_sandbox("atob('a')").find("InvalidCharacterError") != std::string::npos);
}
