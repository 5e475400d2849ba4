// Built-ins the runtime itself relies on, taken before any app code runs:
// an app may replace the globals, but the runtime keeps using these.
export const stringify = JSON.stringify
export const parse = JSON.parse
export const hasOwn = (object, key) => Object.prototype.hasOwnProperty.call(object, key)

// Installs a global the way the platform's own are: not enumerable, but
// writable and configurable, so an app may replace it in its own isolate.
export function setGlobal(name, value) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false })
}

// A global made by `make` on first use (then an ordinary one).
export function setLazyGlobal(name, make) {
  Object.defineProperty(globalThis, name, {
    get() {
      const value = make()
      setGlobal(name, value)
      return value
    },
    set(value) {
      setGlobal(name, value)
    },
    configurable: true,
    enumerable: false,
  })
}

// A value as one line of log text, without throwing.
export function show(value) {
  if (typeof value === 'string') return value
  if (value instanceof Error) return value.stack || String(value)
  if (typeof value === 'function') return `[Function ${value.name || 'anonymous'}]`
  if (typeof value === 'bigint') return `${value}n`
  try {
    const json = JSON.stringify(value)
    return json === undefined ? String(value) : json
  } catch (e) {
    return String(value)
  }
}
