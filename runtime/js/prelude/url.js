// URL and URLSearchParams: the URL Standard's reference implementation
// (npm's whatwg-url; 14.x, the newest that runs on the V8 in Debian's
// libnode). Loaded on first use: many apps never parse a URL, and its IDNA
// tables would cost every isolate.

let loaded

// { URL, URLSearchParams }
export function whatwgUrl() {
  if (!loaded) {
    const { URL, URLSearchParams } = require('whatwg-url')
    loaded = { URL, URLSearchParams }
  }
  return loaded
}
