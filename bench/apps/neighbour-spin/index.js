// Loops forever on every event: each one holds its JS thread for the whole CPU limit.
export function processEvent(event) {
  while (true) {}
}
