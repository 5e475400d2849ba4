// Host services this daemon does not provide yet (meta.cache, meta.geoip,
// meta.utils, the posthog global): any use fails with an error naming the
// service, instead of a bare "cannot read properties of undefined".

export function missing(name) {
  return new Proxy(Object.create(null), {
    get(target, key) {
      // Inspection (console.log, JSON, await) must not throw.
      if (typeof key === 'symbol' || key === 'toJSON' || key === 'then') return undefined
      throw new Error(`${name}.${String(key)} is not available: this daemon does not provide ${name} yet`)
    },
  })
}
