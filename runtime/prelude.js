// Runs once in every app's context, before the app's code. It installs the
// globals apps may use (console, fetch, Headers, Response, URL,
// URLSearchParams, RetryError), the CommonJS loader, and returns the
// runtime's internal helpers to C++. `host`
// holds the native functions; it stays inside this closure, out of apps' reach.
(function (host) {
  'use strict';

  // Taken before any app code runs: an app may replace the globals, but the
  // runtime's own serialisation keeps using these.
  const stringify = JSON.stringify;
  const parse = JSON.parse;

  // Shared memory would let an app block a shared JS thread (Atomics.wait)
  // and time its neighbours; apps get neither.
  delete globalThis.SharedArrayBuffer;
  delete globalThis.Atomics;

  // console: one line per call, tagged with the instance by the daemon's log.
  function show(value) {
    if (typeof value === 'string') return value;
    if (value instanceof Error) return value.stack || String(value);
    if (typeof value === 'function') return `[Function ${value.name || 'anonymous'}]`;
    if (typeof value === 'bigint') return `${value}n`;
    try {
      const json = JSON.stringify(value);
      return json === undefined ? String(value) : json;
    } catch (e) {
      return String(value);
    }
  }
  const console = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    console[level] = (...args) => host.log(level, args.map(show).join(' '));
  }
  Object.freeze(console);

  class URLSearchParams {
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
  class URL {
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

  class Headers {
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

  class Response {
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

  function fetch(resource, options = {}) {
    try {
      const url = new URL(String(resource instanceof URL ? resource.href : resource));
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TypeError(`fetch: only http and https URLs are supported, got ${url.protocol}`);
      }
      const method = String(options.method || 'GET').toUpperCase();
      const headers = [...new Headers(options.headers)];
      let body = options.body;
      if (body !== undefined && body !== null && typeof body !== 'string') {
        if (body instanceof URLSearchParams) body = body.toString();
        else throw new TypeError('fetch: body must be a string or URLSearchParams');
      }
      const timeout = options.timeout === undefined ? 0 : Number(options.timeout);
      if (!Number.isFinite(timeout) || timeout < 0) throw new TypeError('fetch: timeout must be a non-negative number of milliseconds');
      return host.fetch(url.href, method, headers, body == null ? undefined : body, timeout).then((raw) => new Response(raw));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // A failure worth another attempt (a job, a scheduled task); the name apps
  // import from @posthog/plugin-scaffold.
  class RetryError extends Error {
    constructor(message) {
      super(message);
      this.name = 'RetryError';
    }
  }

  function setGlobal(name, value) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  }
  const globals = { console, fetch, Headers, Response, URL, URLSearchParams, RetryError, global: globalThis };
  for (const [name, value] of Object.entries(globals)) setGlobal(name, value);

  // --- modules ------------------------------------------------------------

  // What an app may import besides its own files, as the reference provided.
  function nodeFetch(resource, options) {
    return fetch(resource, options);
  }
  Object.assign(nodeFetch, { default: nodeFetch, Headers, Response });
  const builtinModules = Object.assign(Object.create(null), {
    '@posthog/plugin-scaffold': Object.freeze({ RetryError }),
    'node-fetch': nodeFetch,
    url: Object.freeze({ URL, URLSearchParams }),
  });

  // CommonJS as Node runs it: each bundle file runs once, with its own
  // module, exports and require; later requires get its module.exports.
  const loaded = new Map();
  let bundleName = '';

  function dirname(path) {
    const slash = path.lastIndexOf('/');
    return slash < 0 ? '.' : path.slice(0, slash);
  }

  function makeRequire(referrer) {
    return function require(specifier) {
      if (typeof specifier !== 'string') throw new TypeError('require: the module name must be a string');
      if (Object.prototype.hasOwnProperty.call(builtinModules, specifier)) return builtinModules[specifier];
      const path = host.resolveModule(referrer, specifier);
      if (path === undefined) {
        const relative = specifier.startsWith('./') || specifier.startsWith('../');
        const why = relative
          ? 'no such file in the bundle'
          : `only files of the bundle and these modules can be imported: ${Object.keys(builtinModules).join(', ')}`;
        throw new Error(`${bundleName}/${referrer}: cannot import "${specifier}": ${why}`);
      }
      const known = loaded.get(path);
      if (known) return known.exports;
      const module = { exports: {}, id: path, filename: path, loaded: false };
      loaded.set(path, module);
      const body = host.loadModule(path);
      if (typeof body === 'string') module.exports = parse(body);
      else body.call(module.exports, module.exports, makeRequire(path), module, path, dirname(path));
      module.loaded = true;
      return module.exports;
    };
  }

  // Before the main file runs: its module, exports and require, as globals
  // (the main file is a script, so its top-level functions are globals too).
  function startMain(name, main) {
    bundleName = name;
    const module = { exports: {}, id: main, filename: main, loaded: false };
    loaded.set(main, module);
    const names = { module, exports: module.exports, require: makeRequire(main), __filename: main, __dirname: dirname(main) };
    for (const [key, value] of Object.entries(names)) setGlobal(key, value);
  }

  // Where the app's hooks are once the main file ran, looked up as the
  // reference did: `exports`, its `default`, `module.exports` and its
  // `default`; the global scope only when none of them holds anything (a
  // script that declares its hooks as top-level functions).
  function appExports(names) {
    const places = [globalThis.exports, globalThis.module && globalThis.module.exports];
    for (const place of places.slice()) if (place) places.push(place.default);
    const found = places.filter((p) => p !== null && (typeof p === 'object' || typeof p === 'function'));
    if (!found.some((p) => Object.keys(p).length > 0)) found.push(globalThis);
    const hooks = Object.create(null);
    for (const name of names) {
      const place = found.find((p) => p[name]);
      if (place) hooks[name] = place[name];
    }
    // An app with processEventBatch only: each event is a batch of one, and
    // the batch's first event is the result, as the reference ran it.
    const batchPlace = found.find((p) => p.processEventBatch);
    if (!hooks.processEvent && batchPlace) {
      const batch = batchPlace.processEventBatch;
      hooks.processEvent = async function processEvent(event, meta) {
        const out = await batch([event], meta);
        return Array.isArray(out) ? out[0] : undefined;
      };
    }
    return hooks;
  }

  function makeStorage() {
    return Object.freeze({
      get(key, defaultValue) {
        return host.storageGet(String(key)).then((json) => (json === undefined ? defaultValue : JSON.parse(json)));
      },
      set(key, value) {
        // As the reference: storing undefined removes the key.
        if (value === undefined) return host.storageDel(String(key));
        let json;
        try {
          json = JSON.stringify(value);
        } catch (e) {
          return Promise.reject(new TypeError(`storage.set: the value is not JSON-serialisable: ${e.message}`));
        }
        if (json === undefined) {
          return Promise.reject(new TypeError('storage.set: the value is not JSON-serialisable'));
        }
        return host.storageSet(String(key), json);
      },
      del(key) {
        return host.storageDel(String(key));
      },
    });
  }

  // --- jobs ---------------------------------------------------------------

  const UNIT_MS = { millisecond: 1, second: 1000, minute: 60000, hour: 3600000, day: 86400000, week: 604800000 };
  const UNIT_MONTHS = { month: 1, quarter: 3, year: 12 };
  const UNITS = [...Object.keys(UNIT_MS), ...Object.keys(UNIT_MONTHS)];
  const ACCEPTED_UNITS = UNITS.map((u) => `'${u}s'`).join(', ') + ' (or the singular)';

  // `months` whole calendar months after `ms`, in UTC; the day of the month
  // is clamped (Jan 31 + 1 month = Feb 28 or 29).
  function addMonths(ms, months) {
    const d = new Date(ms);
    const day = d.getUTCDate();
    d.setUTCDate(1);
    d.setUTCMonth(d.getUTCMonth() + months);
    const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
    d.setUTCDate(Math.min(day, lastDay));
    return d.getTime();
  }

  // When a job asked to run `duration` `unit`s from `now` should run. A
  // fraction of a calendar unit is that fraction of the month it falls in.
  function runInTime(now, duration, unit) {
    if (typeof duration !== 'number' || !Number.isFinite(duration) || duration < 0) {
      throw new TypeError(`runIn: the duration must be a finite, non-negative number, got ${show(duration)}`);
    }
    const singular = typeof unit === 'string' && unit.endsWith('s') ? unit.slice(0, -1) : unit;
    if (typeof unit !== 'string' || !UNITS.includes(singular)) {
      throw new TypeError(`runIn: unknown unit ${show(unit)}; accepted units are ${ACCEPTED_UNITS}`);
    }
    if (singular in UNIT_MS) return now + duration * UNIT_MS[singular];
    const months = duration * UNIT_MONTHS[singular];
    const whole = Math.floor(months);
    const start = addMonths(now, whole);
    return start + (months - whole) * (addMonths(now, whole + 1) - start);
  }

  // Refuses what JSON cannot carry faithfully: functions, symbols, BigInts, cycles.
  function checkPayload(value, path, seen) {
    const kind = typeof value;
    if (kind === 'function' || kind === 'symbol' || kind === 'bigint') {
      throw new TypeError(`the job payload cannot hold a ${kind} (at ${path})`);
    }
    if (value === null || kind !== 'object') return;
    if (seen.has(value)) throw new TypeError(`the job payload has a cycle (at ${path})`);
    seen.add(value);
    if (typeof value.toJSON !== 'function') {
      for (const [k, v] of Object.entries(value)) checkPayload(v, Array.isArray(value) ? `${path}[${k}]` : `${path}.${k}`, seen);
    }
    seen.delete(value);
  }

  let jobFunctions = {};

  function scheduler(name) {
    return function (...args) {
      let payloadJSON;
      let problem;
      try {
        if (!Object.prototype.hasOwnProperty.call(jobFunctions, name)) {
          const known = Object.keys(jobFunctions);
          throw new TypeError(`unknown job ${JSON.stringify(name)}: this app's jobs are ${known.length ? known.join(', ') : '(none)'}`);
        }
        if (args.length > 0 && args[0] !== undefined) {
          checkPayload(args[0], 'payload', new Set());
          payloadJSON = JSON.stringify(args[0]);
        }
      } catch (e) {
        problem = e;
      }
      const enqueue = (at) => (problem ? Promise.reject(problem) : host.enqueueJob(name, payloadJSON, at));
      return Object.freeze({
        runNow() {
          return enqueue(Date.now());
        },
        runAt(date) {
          if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
            return Promise.reject(new TypeError(`runAt expects a valid Date, got ${show(date)}`));
          }
          return enqueue(date.getTime());
        },
        runIn(duration, unit) {
          try {
            return enqueue(runInTime(Date.now(), duration, unit));
          } catch (e) {
            return Promise.reject(e);
          }
        },
      });
    };
  }

  // meta.jobs: jobs.NAME(payload).runNow() / runAt(date) / runIn(n, unit).
  // Any name answers, so that an unknown one rejects with a clear error.
  const metaJobs = new Proxy(Object.create(null), {
    get(target, name) {
      if (typeof name !== 'string' || name === 'then') return undefined;
      return scheduler(name);
    },
    has(target, name) {
      return Object.prototype.hasOwnProperty.call(jobFunctions, name);
    },
    ownKeys() {
      return Object.keys(jobFunctions);
    },
    getOwnPropertyDescriptor(target, name) {
      if (!Object.prototype.hasOwnProperty.call(jobFunctions, name)) return undefined;
      return { value: scheduler(name), enumerable: true, configurable: true };
    },
  });

  // Takes the module's exported `jobs` object: keeps its functions to run the
  // jobs, and puts schedulers in their place, so module code that calls
  // jobs.NAME(payload).runIn(...) on its own export works too.
  function bindJobs(exported) {
    jobFunctions = Object.create(null);
    if (!exported || typeof exported !== 'object') return;
    for (const [name, fn] of Object.entries(exported)) {
      if (typeof fn === 'function') jobFunctions[name] = fn;
    }
    for (const name of Object.keys(jobFunctions)) {
      try {
        exported[name] = scheduler(name);
      } catch (e) {
        // A frozen jobs object keeps its functions; meta.jobs still works.
      }
    }
  }

  // Runs job `name`: fn(payload, meta), or fn(meta) when it has no payload.
  function runJob(name, payloadJSON, meta) {
    const fn = jobFunctions[name];
    if (!fn) throw new TypeError(`unknown job ${JSON.stringify(name)}`);
    return payloadJSON === undefined ? fn(meta) : fn(parse(payloadJSON), meta);
  }

  function makeMeta(configJSON, attachmentsJSON, exportedJobs) {
    bindJobs(exportedJobs);
    return {
      config: parse(configJSON),
      attachments: parse(attachmentsJSON),
      global: {},
      storage: makeStorage(),
      jobs: metaJobs,
    };
  }

  function describe(value) {
    return Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value;
  }

  // processEvent with the rules every app relies on: null/undefined drops the
  // event, success is recorded in the event. That team_id did not change is
  // checked by the host on the returned text, where the app cannot reach.
  function processEvent(fn, text, meta, label) {
    const event = parse(text);
    const finish = (result) => {
      if (result === null || result === undefined) return null;
      if (typeof result !== 'object' || Array.isArray(result)) {
        throw new TypeError(`processEvent must return an event object, null or undefined, not ${describe(result)}`);
      }
      if (!result.properties || typeof result.properties !== 'object') result.properties = {};
      const done = result.properties.$plugins_succeeded;
      result.properties.$plugins_succeeded = [...(Array.isArray(done) ? done : []), label];
      return stringify(result);
    };
    const out = fn(event, meta);
    return out && typeof out.then === 'function' ? Promise.resolve(out).then(finish) : finish(out);
  }

  return { makeMeta, processEvent, runJob, runInTime, show, startMain, appExports };
})
