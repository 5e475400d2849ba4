// Waits a second on every event, as an app behind a slow API would.
export async function processEvent(event) {
  await new Promise((resolve) => setTimeout(resolve, 1000))
  return event
}
