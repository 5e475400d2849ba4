// The Node.js peer: the same app module in a node:vm context, called the way
// Node plugin servers call it (JSON.parse, processEvent, JSON.stringify).
//   node --experimental-vm-modules process_event.mjs APP_DIR EVENT_JSON_FILE [calls]
// Prints "<mode> <calls> <seconds>".
import fs from 'node:fs'
import path from 'node:path'
import vm from 'node:vm'

const [appDir, eventFile, callsArg] = process.argv.slice(2)
const calls = Number(callsArg || 20000)
const manifest = JSON.parse(fs.readFileSync(path.join(appDir, 'plugin.json'), 'utf8'))
const source = fs.readFileSync(path.join(appDir, manifest.main || 'index.js'), 'utf8')
const eventText = fs.readFileSync(eventFile, 'utf8')

const context = vm.createContext({ console })
const mod = new vm.SourceTextModule(source, { context })
await mod.link(() => { throw new Error('imports are not used by this benchmark') })
await mod.evaluate()
const { processEvent } = mod.namespace
const meta = { config: { greeting: 'hi' }, global: {}, attachments: {} }

function once() {
  const out = processEvent(JSON.parse(eventText), meta)
  if (!out) throw new Error('dropped')
  return JSON.stringify(out)
}
for (let i = 0; i < 5000; i++) once()
const start = process.hrtime.bigint()
for (let i = 0; i < calls; i++) once()
console.log(`node-vm ${calls} ${Number(process.hrtime.bigint() - start) / 1e9}`)
