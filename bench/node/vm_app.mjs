// Loads an app bundle into node:vm contexts the way Node.js plugin servers
// run apps: one context per installed instance, each event JSON.parse'd,
// handed along the chain's processEvent calls and JSON.stringify'd. Each
// call is awaited, since an app's processEvent may be async.
import fs from 'node:fs'
import path from 'node:path'
import vm from 'node:vm'

async function loadInstance(appDir, config) {
  const manifest = JSON.parse(fs.readFileSync(path.join(appDir, 'plugin.json'), 'utf8'))
  const source = fs.readFileSync(path.join(appDir, manifest.main || 'index.js'), 'utf8')
  const context = vm.createContext({ console })
  const mod = new vm.SourceTextModule(source, { context })
  await mod.link(() => { throw new Error('imports are not used by the benchmarks') })
  await mod.evaluate()
  const meta = { config, global: {}, attachments: {} }
  return { processEvent: mod.namespace.processEvent, meta }
}

// An async function from event text to processed event text, or null when
// an app dropped the event; `apps` instances of the app, each with its own
// greeting.
export async function loadChain(appDir, apps) {
  const chain = []
  for (let i = 0; i < apps; i++) chain.push(await loadInstance(appDir, { greeting: apps === 1 ? 'hi' : `hi ${i}` }))
  return async (text) => {
    let event = JSON.parse(text)
    for (const { processEvent, meta } of chain) {
      event = await processEvent(event, meta)
      if (!event) return null
    }
    return JSON.stringify(event)
  }
}

// Runs a batch of messages through the chain the way plugin servers keep
// order: the events of one key one after another, different keys
// concurrently. Resolves to the outputs (null for a dropped event) in the
// batch's order.
export async function runBatch(chain, messages, keyOf, textOf) {
  const outputs = new Array(messages.length)
  const byKey = new Map()
  messages.forEach((message, index) => {
    const key = keyOf(message)
    if (!byKey.has(key)) byKey.set(key, [])
    byKey.get(key).push(index)
  })
  await Promise.all(
    [...byKey.values()].map(async (indexes) => {
      for (const index of indexes) outputs[index] = await chain(textOf(messages[index]))
    }),
  )
  return outputs
}
