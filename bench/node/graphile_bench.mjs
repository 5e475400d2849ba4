// The peer: graphile-worker on the same Postgres, measured like bench-jobs.
//   node graphile_bench.mjs CONNECTION_STRING [jobs]
// Prints "<mode> <jobs> <seconds>" and "latency <samples> <p50 ms> <p99 ms>".
import { Logger, makeWorkerUtils, run, runMigrations } from 'graphile-worker'

const [connectionString, jobsArg] = process.argv.slice(2)
const jobs = Number(jobsArg || 20000)
const silentLogger = new Logger(() => () => {})
await runMigrations({ connectionString, logger: silentLogger })
const utils = await makeWorkerUtils({ connectionString, logger: silentLogger })
const sql = (text) => utils.withPgClient((client) => client.query(text))
await sql('DELETE FROM graphile_worker._private_jobs')

// Enqueue from 256 concurrent callers, as many app calls would.
let next = 0
let start = process.hrtime.bigint()
const hourAhead = () => new Date(Date.now() + 3600_000)
await Promise.all(Array.from({ length: 256 }, async () => {
  while (next < jobs) {
    next++
    await utils.addJob('noop', {}, { runAt: hourAhead() })
  }
}))
const seconds = (from) => Number(process.hrtime.bigint() - from) / 1e9
console.log(`enqueue ${jobs} ${seconds(start)}`)
// Each measure starts from a clean table (bench-jobs does the same).
const clean = async () => {
  await sql('DELETE FROM graphile_worker._private_jobs')
  await sql('VACUUM graphile_worker._private_jobs')
}
await clean()

async function drain(mode, options) {
  await sql(`SELECT graphile_worker.add_job('noop', '{}'::json) FROM generate_series(1, ${jobs})`)
  let done = 0
  let finished
  const allDone = new Promise((resolve) => { finished = resolve })
  start = process.hrtime.bigint()
  const runner = await run({
    connectionString, noHandleSignals: true, logger: silentLogger,
    taskList: { noop: async () => { if (++done === jobs) finished() } },
    ...options,
  })
  await allDone
  console.log(`${mode} ${jobs} ${seconds(start)}`)
  await runner.stop()
  await clean()
}

await drain('throughput-defaults', {})
await drain('throughput-batched', {
  concurrency: 24,
  preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
})

// Latency: every 250 ms a job scheduled 1 s ahead, default settings.
const samples = 40
const late = []
let allSeen
const seen = new Promise((resolve) => { allSeen = resolve })
const runner = await run({
  connectionString, noHandleSignals: true, logger: silentLogger,
  taskList: { late: async ({ at }) => { late.push(Date.now() - at); if (late.length === samples) allSeen() } },
})
for (let i = 0; i < samples; i++) {
  const at = Date.now() + 1000
  await utils.addJob('late', { at }, { runAt: new Date(at) })
  await new Promise((r) => setTimeout(r, 250))
}
await seen
late.sort((a, b) => a - b)
const pct = (p) => late[Math.min(late.length - 1, Math.floor(p * late.length))]
console.log(`latency ${late.length} ${pct(0.5)} ${pct(0.99)}`)
await runner.stop()
await utils.release()
