// A failure worth another attempt (a job, a scheduled task); the name apps
// import from @posthog/plugin-scaffold.
export class RetryError extends Error {
  constructor(message) {
    super(message)
    this.name = 'RetryError'
  }
}
