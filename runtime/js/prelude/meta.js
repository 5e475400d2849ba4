// The meta object every hook gets as its last argument.
import { parse } from './intrinsics.js'
import { makeStorage } from './storage.js'
import { makeCache, makeCursor } from './cache.js'
import { makeGeoip } from './geoip.js'

export function makeMetaFactory(host, jobs) {
  return function makeMeta(configJSON, attachmentsJSON, exportedJobs) {
    jobs.bindJobs(exportedJobs)
    return {
      config: parse(configJSON),
      attachments: parse(attachmentsJSON),
      global: {},
      storage: makeStorage(host),
      jobs: jobs.metaJobs,
      cache: makeCache(host),
      geoip: makeGeoip(host),
      utils: Object.freeze({ cursor: makeCursor(host) }),
    }
  }
}
