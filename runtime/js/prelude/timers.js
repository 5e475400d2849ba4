// setTimeout, setInterval, setImmediate and their clear functions, on the
// isolate's own thread: each wait is a host sleep, and the callback runs
// as any other entry into the app (under its CPU limit). A call that awaits
// a timer stays open until it fires, within the call's wall-clock limit;
// an isolate replaced for a limit takes its timers with it.

export function makeTimers(host) {
  const active = new Set()
  let next = 1

  // What Node returns: an object that also stands for its id.
  class Timeout {
    #id
    constructor(id) {
      this.#id = id
    }
    ref() {
      return this
    }
    unref() {
      return this
    }
    hasRef() {
      return true
    }
    [Symbol.toPrimitive]() {
      return this.#id
    }
  }

  function idOf(timer) {
    return typeof timer === 'object' && timer !== null ? Number(timer[Symbol.toPrimitive]()) : Number(timer)
  }

  function schedule(callback, delay, args, repeat) {
    if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be of type function')
    const id = next++
    active.add(id)
    const arm = () =>
      host.sleep(Number(delay)).then(() => {
        if (!active.has(id)) return
        if (!repeat) active.delete(id)
        else arm()
        callback(...args)
      })
    arm()
    return new Timeout(id)
  }

  const clear = (timer) => {
    active.delete(idOf(timer))
  }
  return {
    setTimeout: (callback, delay = 0, ...args) => schedule(callback, delay, args, false),
    setInterval: (callback, delay = 0, ...args) => schedule(callback, delay, args, true),
    setImmediate: (callback, ...args) => schedule(callback, 0, args, false),
    clearTimeout: clear,
    clearInterval: clear,
    clearImmediate: clear,
  }
}
