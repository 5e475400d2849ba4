// Node's Buffer: the buffer package from npm (what browsers' bundlers use),
// with the one encoding Node has that it lacks, base64url.
import { Buffer } from 'buffer'

const toBase64url = (base64) => base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
const isBase64url = (encoding) => typeof encoding === 'string' && encoding.toLowerCase() === 'base64url'

const from = Buffer.from
Buffer.from = function (value, encodingOrOffset, length) {
  // The package's base64 decoder reads the URL-safe alphabet too.
  return from.call(this, value, isBase64url(encodingOrOffset) ? 'base64' : encodingOrOffset, length)
}
const toString = Buffer.prototype.toString
Buffer.prototype.toString = function (encoding, start, end) {
  if (isBase64url(encoding)) return toBase64url(toString.call(this, 'base64', start, end))
  return toString.call(this, encoding, start, end)
}
const byteLength = Buffer.byteLength
Buffer.byteLength = function (value, encoding) {
  return byteLength.call(this, value, isBase64url(encoding) ? 'base64' : encoding)
}
const isEncoding = Buffer.isEncoding
Buffer.isEncoding = (encoding) => isBase64url(encoding) || isEncoding(encoding)

export { Buffer }
