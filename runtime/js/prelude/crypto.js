// Node's crypto module (createHash, createHmac, randomBytes, randomUUID,
// timingSafeEqual) and Web Crypto's crypto global (randomUUID,
// getRandomValues, subtle.digest), on the host's OpenSSL.
import { Buffer } from './buffer.js'

// Web Crypto names -> OpenSSL's.
const WEB_DIGESTS = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' }

function toBytes(data, encoding) {
  if (typeof data === 'string') return Buffer.from(data, encoding || 'utf8')
  if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer) return data
  throw new TypeError('The "data" argument must be a string, a Buffer, a TypedArray or a DataView')
}

function output(bytes, encoding) {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return encoding === undefined ? buffer : buffer.toString(encoding)
}

export function makeCrypto(host) {
  class Hash {
    #algorithm
    #key
    #chunks = []
    #done = false
    constructor(algorithm, key) {
      this.#algorithm = String(algorithm).toLowerCase()
      this.#key = key
      // Fails now, as Node does, for an unknown algorithm.
      if (key === undefined) host.digest(this.#algorithm, new Uint8Array(0))
      else host.hmac(this.#algorithm, key, new Uint8Array(0))
    }
    update(data, encoding) {
      if (this.#done) throw new Error('Digest already called')
      this.#chunks.push(Buffer.from(toBytes(data, encoding)))
      return this
    }
    digest(encoding) {
      if (this.#done) throw new Error('Digest already called')
      this.#done = true
      const all = Buffer.concat(this.#chunks)
      const bytes = this.#key === undefined ? host.digest(this.#algorithm, all) : host.hmac(this.#algorithm, this.#key, all)
      return output(bytes, encoding)
    }
  }

  function randomBytes(size, callback) {
    const bytes = output(host.randomBytes(Number(size)))
    if (typeof callback === 'function') {
      Promise.resolve().then(() => callback(null, bytes))
      return undefined
    }
    return bytes
  }

  function randomUUID() {
    const b = host.randomBytes(16)
    b[6] = (b[6] & 0x0f) | 0x40
    b[8] = (b[8] & 0x3f) | 0x80
    const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  }

  function getRandomValues(array) {
    if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
      throw new TypeError('getRandomValues: expected an integer TypedArray')
    }
    if (array.byteLength > 65536) throw new RangeError('getRandomValues: at most 65536 bytes at a time')
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(host.randomBytes(array.byteLength))
    return array
  }

  function timingSafeEqual(a, b) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) throw new TypeError('timingSafeEqual: expected Buffers or TypedArrays')
    if (a.byteLength !== b.byteLength) throw new RangeError('Input buffers must have the same byte length')
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
    let diff = 0
    for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i]
    return diff === 0
  }

  const subtle = Object.freeze({
    digest(algorithm, data) {
      try {
        const name = typeof algorithm === 'string' ? algorithm : algorithm && algorithm.name
        const openssl = WEB_DIGESTS[String(name).toUpperCase()]
        if (!openssl) throw new TypeError(`subtle.digest: unsupported algorithm ${name}`)
        const bytes = host.digest(openssl, toBytes(data))
        return Promise.resolve(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
      } catch (e) {
        return Promise.reject(e)
      }
    },
  })

  const module = Object.freeze({
    createHash: (algorithm) => new Hash(algorithm),
    createHmac: (algorithm, key) => new Hash(algorithm, toBytes(key)),
    randomBytes,
    randomUUID,
    timingSafeEqual,
    getRandomValues,
    webcrypto: Object.freeze({ randomUUID, getRandomValues, subtle }),
  })
  return { module, webcrypto: module.webcrypto }
}
