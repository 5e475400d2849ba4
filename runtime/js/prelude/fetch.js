// fetch, Headers and Response, over the host's HTTP client (which applies
// the address policy, limits and redirects rules).
import { whatwgUrl } from './url.js'

export class Headers {
  #map = new Map();
  constructor(init) {
    if (!init) return;
    const entries = init instanceof Headers || Array.isArray(init) ? init : Object.entries(init);
    for (const [k, v] of entries) this.append(k, v);
  }
  append(name, value) {
    const key = String(name).toLowerCase();
    const prev = this.#map.get(key);
    this.#map.set(key, prev === undefined ? String(value) : `${prev}, ${value}`);
  }
  set(name, value) { this.#map.set(String(name).toLowerCase(), String(value)); }
  get(name) { const v = this.#map.get(String(name).toLowerCase()); return v === undefined ? null : v; }
  has(name) { return this.#map.has(String(name).toLowerCase()); }
  delete(name) { this.#map.delete(String(name).toLowerCase()); }
  forEach(fn) { for (const [k, v] of this.#map) fn(v, k, this); }
  entries() { return this.#map.entries(); }
  keys() { return this.#map.keys(); }
  values() { return this.#map.values(); }
  [Symbol.iterator]() { return this.#map.entries(); }
}

export class Response {
  #body;
  constructor(raw) {
    this.status = raw.status;
    this.statusText = raw.statusText;
    this.ok = raw.status >= 200 && raw.status < 300;
    this.headers = new Headers(raw.headers);
    this.url = raw.url;
    this.#body = raw.body;
  }
  text() { return Promise.resolve(this.#body); }
  json() { return Promise.resolve(this.#body).then((body) => JSON.parse(body)); }
}

// A plain absolute http(s) URL, already as the URL Standard would write it
// (lower-case scheme and host, ASCII, nothing to encode or resolve): fetch
// sends it as it is, without loading the URL parser.
const PLAIN = /^https?:\/\/[a-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9\-._~!$&'()*+,;=:@%\/?]*)?$/;

function target(resource) {
  if (typeof resource === 'string' && PLAIN.test(resource) && !/\/\.\.?(\/|$|\?)|%(?![0-9A-Fa-f]{2})/.test(resource)) {
    return resource.includes('/', resource.indexOf('//') + 2) ? resource : resource + '/';
  }
  const { URL } = whatwgUrl();
  const url = new URL(String(resource instanceof URL ? resource.href : resource));
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`fetch: only http and https URLs are supported, got ${url.protocol}`);
  }
  return url.href;
}

export function makeFetch(host) {
  return function fetch(resource, options = {}) {
    try {
      const href = target(resource);
      const method = String(options.method || 'GET').toUpperCase();
      const headers = [...new Headers(options.headers)];
      let body = options.body;
      if (body !== undefined && body !== null && typeof body !== 'string') {
        if (body instanceof whatwgUrl().URLSearchParams) body = body.toString();
        else throw new TypeError('fetch: body must be a string or URLSearchParams');
      }
      const timeout = options.timeout === undefined ? 0 : Number(options.timeout);
      if (!Number.isFinite(timeout) || timeout < 0) throw new TypeError('fetch: timeout must be a non-negative number of milliseconds');
      const signal = options.signal
      if (signal && signal.aborted) return Promise.reject(signal.reason)
      const response = host.fetch(href, method, headers, body == null ? undefined : body, timeout).then((raw) => new Response(raw));
      if (!signal || typeof signal.addEventListener !== 'function') return response
      return new Promise((resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason), { once: true })
        response.then(resolve, reject)
      })
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
