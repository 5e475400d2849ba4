// meta.geoip.locate(ip): the City record of a public IP address, or null.
// The record has the shape the reference plugin server gave apps (that of
// @maxmind/geoip2-node: country.isoCode, location.timeZone, traits.network,
// ...); the database's own field names (country.iso_code, ...) read too,
// without showing twice when the record is logged or stringified.
import { parse } from './intrinsics.js'

const camel = (name) => name.replace(/_([a-z])/g, (_, c) => c.toUpperCase())

function reshape(value, inNames) {
  if (Array.isArray(value)) return value.map((v) => reshape(v, false))
  if (value === null || typeof value !== 'object') return value
  const out = {}
  for (const key of Object.keys(value)) {
    // Under `names` the keys are language codes ("pt-BR"): kept as they are.
    const name = inNames ? key : camel(key)
    out[name] = reshape(value[key], key === 'names')
    if (name !== key) {
      Object.defineProperty(out, key, { get: () => out[name], enumerable: false, configurable: true })
    }
  }
  return out
}

export function makeGeoip(host) {
  return Object.freeze({
    locate(ip) {
      return host.geoipLocate(String(ip)).then((json) => {
        if (json === null) return null
        const { record, network } = parse(json)
        const response = reshape(record, false)
        response.traits = Object.assign(response.traits || {}, { ipAddress: String(ip), network })
        return response
      })
    },
  })
}
