// The prelude: runs once in every app's isolate, before any app code. It
// installs the globals apps may use and the CommonJS loader, and answers
// the runtime's internal helpers to C++. `host` holds the native functions;
// it stays inside these modules, out of apps' reach. Each API is a file of
// this folder; esbuild bundles them (and the npm packages they use) into
// the binary.
import { setGlobal, setLazyGlobal } from './intrinsics.js'
import { makeConsole } from './console.js'
import { whatwgUrl } from './url.js'
import { Headers, Response, makeFetch } from './fetch.js'
import { RetryError } from './errors.js'
import { makeJobs } from './jobs.js'
import { makeMetaFactory } from './meta.js'
import { makeModules } from './modules.js'
import { processEvent } from './events.js'
import { makeEncoding, atob, btoa } from './encoding.js'
import { makeCrypto } from './crypto.js'
import { makeZlib } from './zlib.js'
import { Buffer } from './buffer.js'
import { makeTimers } from './timers.js'
import { makeAbort } from './abort.js'
import { makePosthog } from './posthog.js'

export default function prelude(host) {
  // Shared memory would let an app block a shared JS thread (Atomics.wait)
  // and time its neighbours; apps get neither.
  delete globalThis.SharedArrayBuffer
  delete globalThis.Atomics

  const fetch = makeFetch(host)
  const { TextEncoder, TextDecoder } = makeEncoding(host)
  const crypto = makeCrypto(host)
  const timers = makeTimers(host)
  const { AbortController, AbortSignal } = makeAbort(timers.setTimeout)
  const performance = Object.freeze({ now: () => host.monotonicNow(), timeOrigin: Date.now() - host.monotonicNow() })
  const globals = {
    console: makeConsole(host),
    fetch,
    Headers,
    Response,
    RetryError,
    Buffer,
    TextEncoder,
    TextDecoder,
    atob,
    btoa,
    crypto: crypto.webcrypto,
    performance,
    structuredClone: (value) => host.clone(value),
    queueMicrotask: (callback) => {
      if (typeof callback !== 'function') throw new TypeError('queueMicrotask: the callback must be a function')
      Promise.resolve().then(() => callback())
    },
    AbortController,
    AbortSignal,
    ...timers,
    posthog: makePosthog(host, crypto.webcrypto.getRandomValues),
    global: globalThis,
  }
  for (const [name, value] of Object.entries(globals)) setGlobal(name, value)
  setLazyGlobal('URL', () => whatwgUrl().URL)
  setLazyGlobal('URLSearchParams', () => whatwgUrl().URLSearchParams)

  // What an app may import besides its own files, as the reference provided.
  function nodeFetch(resource, options) {
    return fetch(resource, options)
  }
  Object.assign(nodeFetch, { default: nodeFetch, Headers, Response })
  const builtinModules = Object.assign(Object.create(null), {
    '@posthog/plugin-scaffold': Object.freeze({ RetryError }),
    'node-fetch': nodeFetch,
    url: Object.freeze({
      get URL() {
        return whatwgUrl().URL
      },
      get URLSearchParams() {
        return whatwgUrl().URLSearchParams
      },
    }),
    buffer: Object.freeze({ Buffer }),
    crypto: crypto.module,
    zlib: makeZlib(host),
  })

  const jobs = makeJobs(host)
  const { startMain, appExports } = makeModules(host, builtinModules)
  return {
    makeMeta: makeMetaFactory(host, jobs),
    processEvent,
    runJob: jobs.runJob,
    startMain,
    appExports,
  }
}
