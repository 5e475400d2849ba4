// URL and URLSearchParams for absolute URLs with an authority (http, https
// and the like).

export class URLSearchParams {
  #pairs = [];
  constructor(init) {
    if (typeof init === 'string') {
      for (const part of init.replace(/^\?/, '').split('&')) {
        if (!part) continue;
        const eq = part.indexOf('=');
        const decode = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
        this.#pairs.push(eq < 0 ? [decode(part), ''] : [decode(part.slice(0, eq)), decode(part.slice(eq + 1))]);
      }
    } else if (init && typeof init === 'object') {
      const entries = typeof init[Symbol.iterator] === 'function' ? init : Object.entries(init);
      for (const [k, v] of entries) this.#pairs.push([String(k), String(v)]);
    }
  }
  get(name) { const p = this.#pairs.find(([k]) => k === name); return p ? p[1] : null; }
  getAll(name) { return this.#pairs.filter(([k]) => k === name).map(([, v]) => v); }
  has(name) { return this.#pairs.some(([k]) => k === name); }
  append(name, value) { this.#pairs.push([String(name), String(value)]); }
  set(name, value) { this.delete(name); this.append(name, value); }
  delete(name) { this.#pairs = this.#pairs.filter(([k]) => k !== name); }
  forEach(fn) { for (const [k, v] of this.#pairs) fn(v, k, this); }
  entries() { return this.#pairs.map((p) => [...p])[Symbol.iterator](); }
  keys() { return this.#pairs.map(([k]) => k)[Symbol.iterator](); }
  values() { return this.#pairs.map(([, v]) => v)[Symbol.iterator](); }
  [Symbol.iterator]() { return this.entries(); }
  toString() {
    const encode = (s) => encodeURIComponent(s).replace(/%20/g, '+');
    return this.#pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
  }
}

// URL for absolute URLs with an authority (http, https and the like).
const URL_PATTERN = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(?:([^:@/?#]*)(?::([^@/?#]*))?@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?([^?#]*)(\?[^#]*)?(#.*)?$/;
const DEFAULT_PORTS = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' };
export class URL {
  constructor(input, base) {
    let text = String(input).trim();
    if (base !== undefined && !URL_PATTERN.test(text)) {
      const b = new URL(base);
      if (text.startsWith('//')) text = b.protocol + text;
      else if (text.startsWith('/')) text = b.origin + text;
      else if (text.startsWith('?')) text = b.origin + b.pathname + text;
      else if (text.startsWith('#')) text = b.origin + b.pathname + b.search + text;
      else text = b.origin + b.pathname.replace(/[^/]*$/, '') + text;
    }
    const m = URL_PATTERN.exec(text);
    if (!m || !m[4]) throw new TypeError(`Invalid URL: ${input}`);
    this.protocol = m[1].toLowerCase() + ':';
    this.username = m[2] || '';
    this.password = m[3] || '';
    this.hostname = m[4].toLowerCase();
    this.port = m[5] && m[5] !== DEFAULT_PORTS[this.protocol] ? m[5] : '';
    const segments = [];
    for (const seg of (m[6] || '/').split('/').slice(1)) {
      if (seg === '..') segments.pop();
      else if (seg !== '.') segments.push(seg);
    }
    this.pathname = '/' + segments.join('/');
    this.searchParams = new URLSearchParams(m[7] || '');
    this.hash = m[8] && m[8] !== '#' ? m[8] : '';
  }
  get search() { const s = this.searchParams.toString(); return s ? `?${s}` : ''; }
  get host() { return this.port ? `${this.hostname}:${this.port}` : this.hostname; }
  get origin() { return `${this.protocol}//${this.host}`; }
  get href() {
    const auth = this.username ? `${this.username}${this.password ? ':' + this.password : ''}@` : '';
    return `${this.protocol}//${auth}${this.host}${this.pathname}${this.search}${this.hash}`;
  }
  toString() { return this.href; }
  toJSON() { return this.href; }
}
