// The Node.js ingestion peer on kafkajs: a consumer group reads the input,
// each batch runs through the app chain in node:vm (events of one key in
// order, keys concurrently), the results are produced
// (acks from all replicas) and only then is the batch's offset committed.
//   node --experimental-vm-modules ingestion_kafkajs.mjs BOOTSTRAP INPUT OUTPUT APP_DIR APPS COUNT
// Prints "<events> <seconds> <cpu seconds>", timed from the first message
// consumed to the last output acknowledged.
import kafkajs from 'kafkajs'
import { loadChain, runBatch } from './vm_app.mjs'
import { Stopwatch } from './stopwatch.mjs'

const { Kafka, logLevel } = kafkajs
const [bootstrap, input, output, appDir, apps, count] = process.argv.slice(2)
const chain = await loadChain(appDir, Number(apps))
const kafka = new Kafka({ clientId: 'bench-kafkajs', brokers: [bootstrap], logLevel: logLevel.NOTHING })
// Not idempotent: the test broker cannot serve kafkajs's idempotent producer.
const producer = kafka.producer()
const consumer = kafka.consumer({ groupId: `bench-${output}`, sessionTimeout: 6000 })
const stopwatch = new Stopwatch(Number(count))

await producer.connect()
await consumer.connect()
await consumer.subscribe({ topic: input, fromBeginning: true })
await consumer.run({
  autoCommit: false,
  // All partitions at once: the peer's best configuration here.
  partitionsConsumedConcurrently: 16,
  eachBatch: async ({ batch, heartbeat }) => {
    stopwatch.start()
    const outputs = await runBatch(chain, batch.messages, (m) => m.key.toString(), (m) => m.value.toString())
    const messages = []
    outputs.forEach((out, i) => out !== null && messages.push({ key: batch.messages[i].key, value: out }))
    await producer.send({ topic: output, messages, acks: -1 })
    const next = (BigInt(batch.lastOffset()) + 1n).toString()
    await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }])
    await heartbeat()
    // Leaving the group from inside eachBatch would wait for this very batch.
    if (stopwatch.done(messages.length)) process.exit(0)
  },
})
