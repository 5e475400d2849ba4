// Adds the configured greeting to every event's properties.
export function processEvent(event, { config }) {
  event.properties = event.properties || {}
  event.properties.greeting = config.greeting
  return event
}
