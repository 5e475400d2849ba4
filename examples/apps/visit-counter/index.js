// Keeps a running count of events per distinct_id in meta.storage (durable in
// Postgres, private to this instance), remembers when each person was last
// seen in meta.cache (Redis: fast, shared by every daemon, allowed to
// forget), records the HTTP status of a URL fetched once at setup, and
// schedules a digest job every third event of a person.
export const jobs = {
  sendDigest: async ({ person, count }) => {
    console.info(`digest: ${person} has sent ${count} events`)
  },
}

export async function setupPlugin({ config, global }) {
  const res = await fetch(config.statusUrl, { timeout: 5000 })
  global.statusCode = res.status
  console.info(`status URL answered ${res.status}`)
}

export async function processEvent(event, { storage, cache, global, jobs }) {
  const key = `count:${event.distinct_id}`
  const count = (await storage.get(key, 0)) + 1
  await storage.set(key, count)
  const seenKey = `last_seen:${event.distinct_id}`
  const previous = await cache.get(seenKey, null)
  await cache.set(seenKey, event.timestamp || new Date().toISOString(), 24 * 3600)
  if (count % 3 === 0) {
    await jobs.sendDigest({ person: event.distinct_id, count }).runIn(2, 'seconds')
  }
  event.properties = event.properties || {}
  event.properties.visit_count = count
  event.properties.previous_visit = previous
  event.properties.status_code = global.statusCode
  return event
}

export async function runEveryMinute({ storage }) {
  console.info(`a minute passed; alice has sent ${await storage.get('count:alice', 0)} events`)
}
