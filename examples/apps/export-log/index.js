// Receives the team's processed events in batches. The daemon stores each
// batch in its job queue before the events count as ingested, so a crash
// loses none, and a throw here retries the batch with the queue's backoff.
export async function exportEvents(events, { global }) {
  global.batches = (global.batches || 0) + 1
  const people = new Set(events.map((e) => e.distinct_id))
  console.info(`export: batch ${global.batches}: ${events.length} event(s) of ${people.size} person(s), ` +
               `first ${events[0].event} at ${events[0].timestamp || 'no timestamp'}`)
}
