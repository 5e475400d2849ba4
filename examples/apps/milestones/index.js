// Reads the visit count visit-counter put on each event and, at every
// `every`th visit of a person, captures a new event for the same team with
// posthog.capture. The captured event is ingested like any other: it goes
// through the team's apps (this one skips it) and to the output topic.
module.exports = {
  async onEvent(event, { config }) {
    if (event.event === 'milestone reached') return
    const visits = event.properties && event.properties.visit_count
    const every = Number(config.every) || 5
    if (!visits || visits % every !== 0) return
    await posthog.capture('milestone reached', { distinct_id: event.distinct_id, visits })
    console.info(`milestone: ${event.distinct_id} reached ${visits} visits`)
  },
}
