// The Node.js ingestion peer on node-rdkafka (librdkafka bindings): the
// consumer takes a batch, runs it through the app chain in node:vm (events of
// one key in order, keys concurrently), produces
// the results (idempotent producer, delivery reports on) and commits the
// batch's offsets once every result is acknowledged.
//   node --experimental-vm-modules ingestion_rdkafka.mjs BOOTSTRAP INPUT OUTPUT APP_DIR APPS COUNT
// Prints "<events> <seconds> <cpu seconds>", timed from the first message
// consumed to the last output acknowledged.
import Kafka from 'node-rdkafka'
import { loadChain, runBatch } from './vm_app.mjs'
import { Stopwatch } from './stopwatch.mjs'

const [bootstrap, input, output, appDir, apps, count] = process.argv.slice(2)
const chain = await loadChain(appDir, Number(apps))
const stopwatch = new Stopwatch(Number(count))

const producer = new Kafka.Producer({
  'metadata.broker.list': bootstrap,
  'enable.idempotence': true,
  'linger.ms': 5,
  dr_cb: true,
})
const consumer = new Kafka.KafkaConsumer(
  {
    'metadata.broker.list': bootstrap,
    'group.id': `bench-${output}`,
    'enable.auto.commit': false,
    'session.timeout.ms': 6000,
  },
  { 'auto.offset.reset': 'earliest' },
)

function ready(client) {
  return new Promise((resolve, reject) => {
    client.once('ready', resolve)
    client.connect({}, (err) => err && reject(err))
  })
}

let awaiting = 0
let batchDone = null
producer.on('delivery-report', (err) => {
  if (err) throw err
  if (--awaiting === 0) batchDone()
})

await ready(producer)
producer.setPollInterval(5)
// Learn the output topic's leader before the clock starts, as plugin-server does.
await new Promise((resolve, reject) =>
  producer.getMetadata({ topic: output, timeout: 5000 }, (err) => (err ? reject(err) : resolve())),
)
await ready(consumer)
consumer.setDefaultConsumeTimeout(50)
consumer.subscribe([input])

function consumeBatch() {
  return new Promise((resolve, reject) => consumer.consume(1000, (err, messages) => (err ? reject(err) : resolve(messages))))
}

for (;;) {
  const messages = await consumeBatch()
  if (messages.length === 0) continue
  stopwatch.start()
  const next = new Map()
  let produced = 0
  const acknowledged = new Promise((resolve) => { batchDone = resolve })
  const outputs = await runBatch(chain, messages, (m) => m.key.toString(), (m) => m.value.toString())
  messages.forEach((message, i) => {
    if (outputs[i] !== null) {
      ++awaiting
      ++produced
      producer.produce(output, null, Buffer.from(outputs[i]), message.key, Date.now())
    }
    next.set(message.partition, message.offset + 1)
  })
  if (awaiting > 0) await acknowledged
  consumer.commit([...next].map(([partition, offset]) => ({ topic: input, partition, offset })))
  if (stopwatch.done(produced)) {
    consumer.disconnect()
    producer.disconnect()
    setTimeout(() => process.exit(0), 100)
    break
  }
}
