// The exports benchmark's app: every batch is accepted at once, so the
// figure is the daemon's own cost of buffering, storing and running batches.
export async function exportEvents(events) {}
