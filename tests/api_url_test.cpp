// URL and URLSearchParams: the URL Standard, with Node's own URL (also a
// conformant implementation) as the oracle for each case.

#include <catch2/catch.hpp>

#include "tests/support/same_as_node.h"


using ps::test::same_as_node;

TEST_CASE("api url: parsing follows the URL Standard", "[runtime][api]") {
  // Relative references, dot segments, percent-encoding, hosts in every form.
  same_as_node(R"(
    const cases = [
      ['http://example.com/a/b/../c/./d?x=1#f', undefined], ['../up?q', 'http://h.com/a/b/c'], ['//other.org/p', 'https://h.com/'],
      ['?only', 'http://h.com/p/q'], ['#frag', 'http://h.com/p?q'], ['HTTP://EXAMPLE.COM:80/', undefined],
      ['https://h.com:443/x', undefined], ['http://h.com:8080', undefined], ['http://0x7f.1/', undefined],
      ['http://[::1]:3000/', undefined], ['http://[0:0:0:0:0:ffff:7f00:1]/', undefined], ['http://münchen.de/straße', undefined],
      ['http://h.com/a b/%zz/ü?q=a b&r=ü#a b', undefined], ['http://user:p%40ss@h.com/', undefined],
      ['file:///etc/hosts', undefined], ['mailto:someone@example.com', undefined], ['data:text/plain,hi there', undefined],
      ['http://h.com\\path\\x', undefined], ['  http://trim.me/  ', undefined], ['http://h.com/%2e%2E/x', undefined],
      // IPv4 in its other notations, IPv6 compression, IDNA and its failures.
      ['http://2130706433/', undefined], ['http://0177.0.0.1/', undefined], ['http://127.1/', undefined],
      ['http://[2001:db8:0:0:1:0:0:1]/', undefined], ['http://[::ffff:192.168.0.1]/', undefined], ['http://xn--mnchen-3ya.de/', undefined],
      ['http://EXAMPLE.com./', undefined], ['http://a.b.c.d.e/', undefined], ['http://ex%41mple.com/', undefined],
      // Special and non-special schemes, opaque paths, default ports, odd slashes.
      ['ws://h.com:80/', undefined], ['wss://h.com:443/', undefined], ['ftp://h.com:21/f', undefined],
      ['git+ssh://git@github.com/o/r.git', undefined], ['urn:isbn:0451450523', undefined], ['javascript:alert(1)', undefined],
      ['http:/one-slash.com/', undefined], ['http:////many.com/', undefined], ['x', 'http://h.com/dir/'],
      ['', 'http://h.com/p?q#f'], ['.', 'http://h.com/a/b'], ['..', 'http://h.com/a/b/'], ['/a/./b/../../c', 'http://h.com/'],
      ['http://h.com/?q=\'"<>`', undefined], ['http://h.com/#\'"<>` ', undefined], ['http://h.com/\t\n/x', undefined],
      ['http://h.com/p;params?x', undefined], ['blob:https://h.com/uuid', undefined], ['file://host/share/f', undefined],
      ['file:c:/win', undefined], ['https://user@h.com:0/', undefined], ['http://@h.com/', undefined],
    ]
    const out = cases.map(([input, base]) => {
      const u = new URL(input, base)
      return [u.href, u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash, u.origin]
    })
    for (const bad of ['not a url', 'http://', 'http://h.com:99999/', 'http://[::1/', 'http://a b/', 'http://h%00.com/', 'http://[1::2::3]/', 'http://256.256.256.256/', 'https://xn--/', 'http://h.com:-1/', 'http://\u0000/']) {
      try { new URL(bad); out.push('accepted ' + bad) } catch (e) { out.push(e.name) }
    }
    return out
  )");
}

TEST_CASE("api url: setters, including the cases a hand-written URL got wrong", "[runtime][api]") {
  same_as_node(R"(
    const u = new URL('http://a.com/x/y?k=v#h')
    const out = []
    u.pathname = ''; out.push(u.href)
    u.search = '?q=%20%7E and more'; out.push(u.href, u.searchParams.get('q'))
    u.hash = 'new'; u.port = '8080'; u.hostname = 'b.org'; u.username = 'me'; out.push(u.href)
    u.protocol = 'https'; out.push(u.href)
    u.port = '443'; out.push(u.href, u.port)
    u.searchParams.append('x', 'a b&c'); out.push(u.href)
    u.href = 'http://c.net/'; out.push(u.searchParams.toString(), u.href)
    return out
  )");
}

TEST_CASE("api url: URLSearchParams parses, encodes and sorts as the standard says", "[runtime][api]") {
  same_as_node(R"(
    const p = new URLSearchParams('?a=1&b=x+y&a=2&c=%F0%9F%98%80&d&=e&f=%zz')
    const out = [p.getAll('a'), p.get('b'), p.get('c'), p.get('d'), p.get(''), p.get('f'), p.has('a'), [...p.keys()]]
    p.sort(); out.push(p.toString())
    p.set('a', 'é ~*'); p.delete('b'); out.push(p.toString())
    out.push(new URLSearchParams({ k: 'v w', n: 1 }).toString(), new URLSearchParams([['x', '1'], ['y', '2']]).toString())
    const { URL: ModuleURL } = require('url')
    out.push(ModuleURL === URL, new URL('http://h/?a=b').searchParams instanceof URLSearchParams)
    return out
  )");
}
