// TextEncoder and TextDecoder (UTF-8, natively), atob and btoa.

export function makeEncoding(host) {
  class TextEncoder {
    get encoding() {
      return 'utf-8'
    }
    encode(input = '') {
      return host.utf8Encode(String(input))
    }
    encodeInto(input, destination) {
      const bytes = host.utf8Encode(String(input))
      const written = Math.min(bytes.length, destination.length)
      destination.set(bytes.subarray(0, written))
      return { read: written === bytes.length ? String(input).length : undefined, written }
    }
  }

  class TextDecoder {
    #fatal
    constructor(label = 'utf-8', options = {}) {
      const name = String(label).trim().toLowerCase()
      if (name !== 'utf-8' && name !== 'utf8' && name !== 'unicode-1-1-utf-8') {
        throw new RangeError(`TextDecoder: only utf-8 is supported, not "${label}"`)
      }
      this.#fatal = Boolean(options && options.fatal)
    }
    get encoding() {
      return 'utf-8'
    }
    get fatal() {
      return this.#fatal
    }
    decode(input) {
      if (input === undefined) return ''
      let text = host.utf8Decode(input, this.#fatal)
      // A leading byte-order mark is not part of the text.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
      return text
    }
  }

  return { TextEncoder, TextDecoder }
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

function invalidCharacter(message) {
  const error = new Error(message)
  error.name = 'InvalidCharacterError'
  return error
}

// Base64 of a string of Latin-1 characters (each char one byte).
export function btoa(data) {
  const text = String(data)
  let out = ''
  for (let i = 0; i < text.length; i += 3) {
    const a = text.charCodeAt(i), b = text.charCodeAt(i + 1), c = text.charCodeAt(i + 2)
    if (a > 255 || b > 255 || c > 255) throw invalidCharacter('btoa: the string has characters outside of Latin1')
    const n = (a << 16) | ((b || 0) << 8) | (c || 0)
    out += BASE64[n >> 18] + BASE64[(n >> 12) & 63] +
      (i + 1 < text.length ? BASE64[(n >> 6) & 63] : '=') + (i + 2 < text.length ? BASE64[n & 63] : '=')
  }
  return out
}

// The Latin-1 string a base64 text holds (whitespace ignored, as browsers do).
export function atob(data) {
  let text = String(data).replace(/[\t\n\f\r ]/g, '')
  if (text.length % 4 === 0) text = text.replace(/==?$/, '')
  if (text.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(text)) throw invalidCharacter('atob: the string is not valid base64')
  let out = ''
  let bits = 0, value = 0
  for (const ch of text) {
    value = (value << 6) | BASE64.indexOf(ch)
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out += String.fromCharCode((value >> bits) & 255)
    }
  }
  return out
}
