// Node's zlib module: the one-shot transforms, sync and with a callback,
// on the host's zlib.
import { Buffer } from './buffer.js'

const MODES = { deflate: 'deflate', inflate: 'inflate', gzip: 'gzip', gunzip: 'gunzip', deflateRaw: 'deflateRaw', inflateRaw: 'inflateRaw', unzip: 'unzip' }

export function makeZlib(host) {
  const zlib = {}
  for (const [name, mode] of Object.entries(MODES)) {
    const sync = (data, options) => {
      const input = typeof data === 'string' ? Buffer.from(data) : data
      if (!ArrayBuffer.isView(input) && !(input instanceof ArrayBuffer)) {
        throw new TypeError('The "buffer" argument must be a string, a Buffer, a TypedArray or a DataView')
      }
      const bytes = host.zlib(mode, input, options && options.level)
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    }
    zlib[`${name}Sync`] = sync
    zlib[name] = (data, options, callback) => {
      const done = typeof options === 'function' ? options : callback
      let result, error = null
      try {
        result = sync(data, typeof options === 'function' ? undefined : options)
      } catch (e) {
        error = e
      }
      Promise.resolve().then(() => done(error, result))
    }
  }
  zlib.constants = Object.freeze({ Z_NO_COMPRESSION: 0, Z_BEST_SPEED: 1, Z_BEST_COMPRESSION: 9, Z_DEFAULT_COMPRESSION: -1 })
  return Object.freeze(zlib)
}
