// meta.cache and meta.utils.cursor: Redis, through the host, on keys of the
// instance's own. Values are JSON by default ({ jsonSerialize: false } keeps
// them as text), as the reference plugin server stored them.
import { parse, stringify } from './intrinsics.js'

function wantsJson(options) {
  return !(options && options.jsonSerialize === false)
}

export function makeCache(host) {
  const run = (verb, key, args) => host.cacheCommand('cache', verb, String(key), args)
  return Object.freeze({
    set(key, value, ttlSeconds, options) {
      const text = wantsJson(options) ? stringify(value) : String(value)
      if (text === undefined) return Promise.reject(new TypeError('meta.cache.set: the value is not JSON-serialisable'))
      const args = ttlSeconds ? [text, 'EX', String(ttlSeconds)] : [text]
      return run('SET', key, args).then(() => undefined)
    },
    get(key, defaultValue, options) {
      return run('GET', key, []).then((text) => {
        if (text === null) return defaultValue
        // As the reference: an empty value reads as null, and so does text
        // that is not JSON when JSON is expected.
        if (!text) return null
        if (!wantsJson(options)) return text
        try {
          return parse(text)
        } catch (e) {
          return null
        }
      })
    },
    incr(key) {
      return run('INCR', key, [])
    },
    expire(key, ttlSeconds) {
      return run('EXPIRE', key, [String(ttlSeconds)]).then((changed) => changed === 1)
    },
    lpush(key, elementOrArray) {
      const items = Array.isArray(elementOrArray) ? elementOrArray : [elementOrArray]
      return run('LPUSH', key, items.map(String))
    },
    lrange(key, startIndex, endIndex) {
      return run('LRANGE', key, [String(startIndex), String(endIndex)])
    },
    llen(key) {
      return run('LLEN', key, [])
    },
    lpop(key, count = 1) {
      return run('LPOP', key, [String(count)])
    },
    lrem(key, count, elementKey) {
      return run('LREM', key, [String(count), String(elementKey)])
    },
  })
}

// meta.utils.cursor: a counter that several daemons share, such as the
// position of an export walking through a history.
export function makeCursor(host) {
  const run = (verb, key, args) => host.cacheCommand('cursor', verb, String(key), args)
  return Object.freeze({
    init(key, initialValue = 0) {
      // Only the first init sets it: every daemon's setupPlugin calls init.
      return run('SETNX', key, [String(initialValue)]).then(() => undefined)
    },
    increment(key, incrementBy = 1) {
      return run('INCRBY', key, [String(incrementBy)])
    },
  })
}
