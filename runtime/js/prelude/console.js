// console: one line per call, tagged with the instance by the daemon's log.
import { show } from './intrinsics.js'

export function makeConsole(host) {
  const console = {}
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    console[level] = (...args) => host.log(level, args.map(show).join(' '))
  }
  return Object.freeze(console)
}
