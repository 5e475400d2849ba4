// Keeps a running count of events per distinct_id in meta.storage (durable in
// Postgres, private to this instance) and records the HTTP status of a URL
// fetched once at setup.
export async function setupPlugin({ config, global }) {
  const res = await fetch(config.statusUrl, { timeout: 5000 })
  global.statusCode = res.status
  console.info(`status URL answered ${res.status}`)
}

export async function processEvent(event, { storage, global }) {
  const key = `count:${event.distinct_id}`
  const count = (await storage.get(key, 0)) + 1
  await storage.set(key, count)
  event.properties = event.properties || {}
  event.properties.visit_count = count
  event.properties.status_code = global.statusCode
  return event
}
