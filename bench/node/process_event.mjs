// The Node.js peer: the same app module in a node:vm context, called the way
// Node plugin servers call it (JSON.parse, processEvent, JSON.stringify).
//   node --experimental-vm-modules process_event.mjs APP_DIR EVENT_JSON_FILE [calls]
// Prints "<mode> <calls> <seconds>".
import fs from 'node:fs'
import { loadChain } from './vm_app.mjs'

const [appDir, eventFile, callsArg] = process.argv.slice(2)
const calls = Number(callsArg || 20000)
const eventText = fs.readFileSync(eventFile, 'utf8')
const chain = await loadChain(appDir, 1)

async function once() {
  if ((await chain(eventText)) === null) throw new Error('dropped')
}
for (let i = 0; i < 5000; i++) await once()
const start = process.hrtime.bigint()
for (let i = 0; i < calls; i++) await once()
console.log(`node-vm ${calls} ${Number(process.hrtime.bigint() - start) / 1e9}`)
