// The queue benchmark's app: a no-op job, a job that waits 10 ms as an
// I/O-bound job would, a job that records how late it started, and a
// processEvent that enqueues one job per event.
export const jobs = {
  noop: () => {},
  wait10: () => new Promise((resolve) => setTimeout(resolve, 10)),
  late: async (at, { storage }) => {
    await storage.set(`late:${at}`, Date.now() - at)
  },
}

export async function processEvent(event, { jobs }) {
  if (event.event === 'schedule-late') {
    const at = Date.now() + 1000
    await jobs.late(at).runAt(new Date(at))
  } else {
    await jobs.noop(null).runIn(1, 'hour')
  }
  return event
}
