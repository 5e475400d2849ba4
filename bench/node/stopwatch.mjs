// Times a run from its first consumed message until `expected` outputs are
// acknowledged, then prints "<events> <seconds> <cpu seconds>".
export class Stopwatch {
  constructor(expected) {
    this.expected = expected
    this.acknowledged = 0
    this.startedAt = null
  }

  start() {
    if (this.startedAt !== null) return
    this.startedAt = process.hrtime.bigint()
    this.cpuAtStart = process.cpuUsage()
  }

  // Counts acknowledged outputs; true (after printing) once all are in.
  done(acknowledged) {
    this.acknowledged += acknowledged
    if (this.acknowledged < this.expected) return false
    const seconds = Number(process.hrtime.bigint() - this.startedAt) / 1e9
    const cpu = process.cpuUsage(this.cpuAtStart)
    console.log(`${this.acknowledged} ${seconds} ${(cpu.user + cpu.system) / 1e6}`)
    return true
  }
}
