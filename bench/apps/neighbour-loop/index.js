// Holds its JS thread for 20 ms on every event, as a heavy app would.
export function processEvent(event) {
  const end = Date.now() + 20
  while (Date.now() < end) {}
  return event
}
