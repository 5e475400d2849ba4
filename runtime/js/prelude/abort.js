// AbortController and AbortSignal, as far as apps use them: abort(),
// aborted, reason, onabort and abort listeners, AbortSignal.abort() and
// AbortSignal.timeout(); fetch rejects with an AbortError when its signal
// aborts (the host request finishes on its own and is ignored).

export function abortError(reason) {
  if (reason !== undefined) return reason
  const error = new Error('This operation was aborted')
  error.name = 'AbortError'
  return error
}

export function makeAbort(setTimeout) {
  class AbortSignal {
    #aborted = false
    #reason = undefined
    #listeners = []
    onabort = null
    get aborted() {
      return this.#aborted
    }
    get reason() {
      return this.#reason
    }
    throwIfAborted() {
      if (this.#aborted) throw this.#reason
    }
    addEventListener(type, listener, options) {
      if (type === 'abort' && typeof listener === 'function') {
        this.#listeners.push({ listener, once: Boolean(options && options.once) })
      }
    }
    removeEventListener(type, listener) {
      this.#listeners = this.#listeners.filter((l) => l.listener !== listener)
    }
    // Called by the controller only.
    static _abort(signal, reason) {
      if (signal.#aborted) return
      signal.#aborted = true
      signal.#reason = reason === undefined ? abortError() : reason
      const event = { type: 'abort', target: signal }
      if (typeof signal.onabort === 'function') signal.onabort(event)
      const listeners = signal.#listeners
      signal.#listeners = listeners.filter((l) => !l.once)
      for (const { listener } of listeners) listener.call(signal, event)
    }
    static abort(reason) {
      const signal = new AbortSignal()
      AbortSignal._abort(signal, reason)
      return signal
    }
    static timeout(ms) {
      const signal = new AbortSignal()
      const error = new Error('The operation was aborted due to timeout')
      error.name = 'TimeoutError'
      setTimeout(() => AbortSignal._abort(signal, error), ms)
      return signal
    }
  }

  class AbortController {
    #signal = new AbortSignal()
    get signal() {
      return this.#signal
    }
    abort(reason) {
      AbortSignal._abort(this.#signal, reason)
    }
  }

  return { AbortController, AbortSignal }
}
