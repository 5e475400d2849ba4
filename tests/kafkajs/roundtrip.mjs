// Produces events with kafkajs into the daemon's input topic and reads the
// daemon's output back with a kafkajs consumer.
//   node roundtrip.mjs BOOTSTRAP INPUT_TOPIC OUTPUT_TOPIC COUNT
// Prints one JSON line: {"produced": n, "received": n, "keys_ok": bool, "stamped": n}; exit 0 when all came back.
import { Kafka, logLevel } from 'kafkajs'

const [bootstrap, input, output, countArg] = process.argv.slice(2)
const count = Number(countArg)
const kafka = new Kafka({ brokers: bootstrap.split(','), clientId: 'kafkajs-check', logLevel: logLevel.NOTHING })

const producer = kafka.producer()
await producer.connect()
const messages = Array.from({ length: count }, (_, i) => ({
  value: JSON.stringify({ event: 'from-kafkajs', team_id: 1, distinct_id: `k${i % 5}`, properties: { i } }),
}))
await producer.send({ topic: input, messages })
await producer.disconnect()

const consumer = kafka.consumer({ groupId: `kafkajs-check-${process.pid}`, sessionTimeout: 6000, heartbeatInterval: 1000 })
await consumer.connect()
await consumer.subscribe({ topic: output, fromBeginning: true })
const seen = new Map()
let keysOk = true
let stamped = 0
const done = new Promise((resolve) => {
  consumer.run({
    eachMessage: async ({ message }) => {
      const event = JSON.parse(message.value.toString())
      if (event.event !== 'from-kafkajs') return
      if (message.key.toString() !== `1:${event.distinct_id}`) keysOk = false
      if (event.properties.stamped === true) stamped++
      seen.set(event.properties.i, true)
      if (seen.size === count) resolve()
    },
  })
})
const timeout = new Promise((resolve) => setTimeout(resolve, 60000))
await Promise.race([done, timeout])
await consumer.disconnect()
console.log(JSON.stringify({ produced: count, received: seen.size, keys_ok: keysOk, stamped }))
process.exit(seen.size === count && keysOk ? 0 : 1)
