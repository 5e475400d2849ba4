// The peer of bench-app-load: Node.js transpiling the same TypeScript with
// the same sucrase, and starting the same number of node:vm contexts that
// each run the transpiled app, as Node.js plugin servers start instances.
//   node app_load.mjs APP_DIR INSTANCES
// Prints "transpile <bytes> <seconds>" (the best of 5) and "start <instances> <seconds>".
import fs from 'node:fs'
import path from 'node:path'
import vm from 'node:vm'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { transform } = require('../../runtime/js/node_modules/sucrase')

const [appDir, instances] = [process.argv[2], Number(process.argv[3])]
const manifest = JSON.parse(fs.readFileSync(path.join(appDir, 'plugin.json'), 'utf8'))
const source = fs.readFileSync(path.join(appDir, manifest.main), 'utf8')

let best = Infinity
let code
for (let i = 0; i < 5; i++) {
  const start = process.hrtime.bigint()
  code = transform(source, { transforms: ['typescript', 'imports'], filePath: manifest.main, production: true }).code
  best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9)
}
console.log(`transpile ${Buffer.byteLength(source)} ${best}`)

const start = process.hrtime.bigint()
const script = new vm.Script(code)
for (let i = 0; i < instances; i++) {
  const module = { exports: {} }
  const context = vm.createContext({ console, module, exports: module.exports, require: () => ({}) })
  script.runInContext(context)
  if (typeof module.exports.processEvent !== 'function') throw new Error('the app did not load')
  await module.exports.setupPlugin?.({ config: {}, global: {} })
}
console.log(`start ${instances} ${Number(process.hrtime.bigint() - start) / 1e9}`)
