// meta.jobs: jobs.NAME(payload).runNow() / runAt(date) / runIn(n, unit),
// each resolving once the job is durable; and running the app's own job
// functions when their time comes.
import { parse, show } from './intrinsics.js'

const UNIT_MS = { millisecond: 1, second: 1000, minute: 60000, hour: 3600000, day: 86400000, week: 604800000 };
const UNIT_MONTHS = { month: 1, quarter: 3, year: 12 };
const UNITS = [...Object.keys(UNIT_MS), ...Object.keys(UNIT_MONTHS)];
const ACCEPTED_UNITS = UNITS.map((u) => `'${u}s'`).join(', ') + ' (or the singular)';

// `months` whole calendar months after `ms`, in UTC; the day of the month
// is clamped (Jan 31 + 1 month = Feb 28 or 29).
function addMonths(ms, months) {
  const d = new Date(ms);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, lastDay));
  return d.getTime();
}

// When a job asked to run `duration` `unit`s from `now` should run. A
// fraction of a calendar unit is that fraction of the month it falls in.
export function runInTime(now, duration, unit) {
  if (typeof duration !== 'number' || !Number.isFinite(duration) || duration < 0) {
    throw new TypeError(`runIn: the duration must be a finite, non-negative number, got ${show(duration)}`);
  }
  const singular = typeof unit === 'string' && unit.endsWith('s') ? unit.slice(0, -1) : unit;
  if (typeof unit !== 'string' || !UNITS.includes(singular)) {
    throw new TypeError(`runIn: unknown unit ${show(unit)}; accepted units are ${ACCEPTED_UNITS}`);
  }
  if (singular in UNIT_MS) return now + duration * UNIT_MS[singular];
  const months = duration * UNIT_MONTHS[singular];
  const whole = Math.floor(months);
  const start = addMonths(now, whole);
  return start + (months - whole) * (addMonths(now, whole + 1) - start);
}

// Refuses what JSON cannot carry faithfully: functions, symbols, BigInts, cycles.
function checkPayload(value, path, seen) {
  const kind = typeof value;
  if (kind === 'function' || kind === 'symbol' || kind === 'bigint') {
    throw new TypeError(`the job payload cannot hold a ${kind} (at ${path})`);
  }
  if (value === null || kind !== 'object') return;
  if (seen.has(value)) throw new TypeError(`the job payload has a cycle (at ${path})`);
  seen.add(value);
  if (typeof value.toJSON !== 'function') {
    for (const [k, v] of Object.entries(value)) checkPayload(v, Array.isArray(value) ? `${path}[${k}]` : `${path}.${k}`, seen);
  }
  seen.delete(value);
}

export function makeJobs(host) {
  let jobFunctions = {};

  function scheduler(name) {
    return function (...args) {
      let payloadJSON;
      let problem;
      try {
        if (!Object.prototype.hasOwnProperty.call(jobFunctions, name)) {
          const known = Object.keys(jobFunctions);
          throw new TypeError(`unknown job ${JSON.stringify(name)}: this app's jobs are ${known.length ? known.join(', ') : '(none)'}`);
        }
        if (args.length > 0 && args[0] !== undefined) {
          checkPayload(args[0], 'payload', new Set());
          payloadJSON = JSON.stringify(args[0]);
        }
      } catch (e) {
        problem = e;
      }
      const enqueue = (at) => (problem ? Promise.reject(problem) : host.enqueueJob(name, payloadJSON, at));
      return Object.freeze({
        runNow() {
          return enqueue(Date.now());
        },
        runAt(date) {
          if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
            return Promise.reject(new TypeError(`runAt expects a valid Date, got ${show(date)}`));
          }
          return enqueue(date.getTime());
        },
        runIn(duration, unit) {
          try {
            return enqueue(runInTime(Date.now(), duration, unit));
          } catch (e) {
            return Promise.reject(e);
          }
        },
      });
    };
  }

  // meta.jobs: jobs.NAME(payload).runNow() / runAt(date) / runIn(n, unit).
  // Any name answers, so that an unknown one rejects with a clear error.
  const metaJobs = new Proxy(Object.create(null), {
    get(target, name) {
      if (typeof name !== 'string' || name === 'then') return undefined;
      return scheduler(name);
    },
    has(target, name) {
      return Object.prototype.hasOwnProperty.call(jobFunctions, name);
    },
    ownKeys() {
      return Object.keys(jobFunctions);
    },
    getOwnPropertyDescriptor(target, name) {
      if (!Object.prototype.hasOwnProperty.call(jobFunctions, name)) return undefined;
      return { value: scheduler(name), enumerable: true, configurable: true };
    },
  });

  // Takes the module's exported `jobs` object: keeps its functions to run the
  // jobs, and puts schedulers in their place, so module code that calls
  // jobs.NAME(payload).runIn(...) on its own export works too.
  function bindJobs(exported) {
    jobFunctions = Object.create(null);
    if (!exported || typeof exported !== 'object') return;
    for (const [name, fn] of Object.entries(exported)) {
      if (typeof fn === 'function') jobFunctions[name] = fn;
    }
    for (const name of Object.keys(jobFunctions)) {
      try {
        exported[name] = scheduler(name);
      } catch (e) {
        // A frozen jobs object keeps its functions; meta.jobs still works.
      }
    }
  }

  // Runs job `name`: fn(payload, meta), or fn(meta) when it has no payload.
  function runJob(name, payloadJSON, meta) {
    const fn = jobFunctions[name];
    if (!fn) throw new TypeError(`unknown job ${JSON.stringify(name)}`);
    return payloadJSON === undefined ? fn(meta) : fn(parse(payloadJSON), meta);
  }

  return { metaJobs, bindJobs, runJob };
}
