// Never answers, as an app waiting on a dead API without a timeout would.
export async function processEvent(event) {
  await new Promise(() => {})
  return event
}
