// The `posthog` global: capture (an event for the app's own team, ingested
// like any other) and api (the analytics API, with keys only the host holds).
import { stringify } from './intrinsics.js'
import { Response } from './fetch.js'

const LIB = 'posthog-plugin-server'

// A time-ordered UUID (version 7): events captured later sort later, as the
// reference's time-based ids did.
function uuidv7(getRandomValues) {
  const bytes = getRandomValues(new Uint8Array(16))
  let ms = Date.now()
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256
    ms = Math.floor(ms / 256)
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

function apiRequest(host, method, path, options = {}) {
  if (typeof path !== 'string') return Promise.reject(new TypeError('posthog.api: the path must be a string'))
  const opts = options === null || typeof options !== 'object' ? {} : options
  const { data, host: apiHost, personalApiKey, projectApiKey, headers } = opts
  const text = (value) => (typeof value === 'string' ? value : undefined)
  // As the reference: a GET sends its data as query parameters, DELETE sends
  // none, the others send it as a JSON body.
  let query, body
  if (method === 'GET' && data && typeof data === 'object') query = new URLSearchParams(data).toString()
  else if (method !== 'GET' && method !== 'DELETE') body = stringify(data || {})
  const headerPairs =
    headers && typeof headers === 'object' ? Object.entries(headers).map(([name, value]) => [String(name), String(value)]) : []
  return host
    .posthogApi(method, path, query, body, text(apiHost), text(personalApiKey), text(projectApiKey), headerPairs)
    .then((raw) => new Response(raw))
}

export function makePosthog(host, getRandomValues) {
  function capture(event, properties = {}) {
    if (typeof event !== 'string' || event === '') {
      return Promise.reject(new TypeError('posthog.capture: the event name must be a non-empty string'))
    }
    if (properties === null || typeof properties !== 'object') properties = {}
    try {
      const { timestamp = new Date().toISOString(), distinct_id = host.appName, ...rest } = properties
      const distinctId = String(distinct_id)
      const data = {
        distinct_id: distinctId,
        event,
        timestamp: String(timestamp),
        properties: { $lib: LIB, $lib_version: host.version, distinct_id: distinctId, ...rest },
        uuid: uuidv7(getRandomValues),
      }
      const json = stringify(data)
      return host.captureEvent(json, data.distinct_id, data.timestamp, data.uuid)
    } catch (error) {
      return Promise.reject(error)
    }
  }
  const api = Object.freeze({
    get: (path, options) => apiRequest(host, 'GET', path, options),
    post: (path, options) => apiRequest(host, 'POST', path, options),
    put: (path, options) => apiRequest(host, 'PUT', path, options),
    patch: (path, options) => apiRequest(host, 'PATCH', path, options),
    delete: (path, options) => apiRequest(host, 'DELETE', path, options),
  })
  return Object.freeze({ capture, api })
}
