#pragma once
// Every statement the job queue runs, in one place. Batches travel as one
// JSON parameter expanded with jsonb_to_recordset, so a batch of any size is
// one round trip.

namespace ps::scheduler::sql {

// $1: [{instance_id, kind, name, payload (JSON text or null), run_at_ms}], $2: max_attempts.
// The payload travels as text so that a JSON null payload stays distinct
// from "no payload" (SQL NULL).
inline constexpr const char* kEnqueue = R"SQL(
  INSERT INTO jobs (instance_id, kind, name, payload, run_at, max_attempts)
  SELECT r.instance_id, r.kind, r.name, r.payload::jsonb, to_timestamp(r.run_at_ms / 1000.0), $2
  FROM jsonb_to_recordset($1::jsonb)
       AS r(instance_id bigint, kind text, name text, payload text, run_at_ms double precision)
)SQL";

// $1: instance, $2: a bound. How many jobs the instance has waiting, counted
// up to the bound only (the quota needs no more).
inline constexpr const char* kQueuedJobs = R"SQL(
  SELECT count(*) FROM (SELECT 1 FROM jobs WHERE instance_id = $1 AND state = 'available' LIMIT $2) AS waiting
)SQL";

inline constexpr const char* kChannel = "plugin_server_jobs";

// $1: payload (the earliest run_at in ms, as text).
inline constexpr const char* kNotify = "SELECT pg_notify('plugin_server_jobs', $1)";

// Claims and outcomes need not wait for the WAL flush: if a crash loses one,
// the job is simply run again (at-least-once). Only enqueue waits, because an
// app is told its job is durable.
inline constexpr const char* kNoFlushWait = "SET LOCAL synchronous_commit = off";

// The claim must walk jobs_available in order. Right after a burst of
// inserts the table's statistics are stale and the planner picks a bitmap
// scan plus a sort of every available job instead, each claim: rule that out.
inline constexpr const char* kClaimPlan = "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off";

// $1: how many, $2: this daemon's id, $3: lease in ms.
// Fair between app instances: each instance with available jobs gets an
// equal share of the claim (its due jobs, in due order), so one instance's
// backlog cannot keep another's jobs waiting. The instances are found by a
// skip scan of jobs_available_by_instance (one index probe each, however
// long a backlog is). Every row's last column is the share: an instance
// that filled it may have more due.
inline constexpr const char* kClaim = R"SQL(
  WITH RECURSIVE owners(instance_id) AS (
      (SELECT instance_id FROM jobs WHERE state = 'available' ORDER BY instance_id LIMIT 1)
    UNION ALL
      SELECT (SELECT j.instance_id FROM jobs j
              WHERE j.state = 'available' AND j.instance_id > o.instance_id
              ORDER BY j.instance_id LIMIT 1)
      FROM owners o WHERE o.instance_id IS NOT NULL
  ),
  share AS (
    SELECT GREATEST(1, ceil($1::numeric / GREATEST(1, count(*))))::int AS n FROM owners WHERE instance_id IS NOT NULL
  ),
  due AS (
    SELECT d.id FROM owners o CROSS JOIN share
    CROSS JOIN LATERAL (
      SELECT j.id FROM jobs j
      WHERE j.instance_id = o.instance_id AND j.state = 'available' AND j.run_at <= now()
      ORDER BY j.run_at, j.id
      LIMIT share.n
      FOR UPDATE SKIP LOCKED
    ) d
    WHERE o.instance_id IS NOT NULL
    LIMIT $1
  )
  UPDATE jobs j
  SET state = 'running', attempts = j.attempts + 1, locked_by = $2,
      locked_until = now() + $3 * interval '1 millisecond', started_at = now()
  FROM due WHERE j.id = due.id
  RETURNING j.id, j.instance_id, j.kind, j.name, j.payload::text, j.attempts, j.max_attempts,
            extract(epoch FROM now() - j.run_at), (SELECT n FROM share)
)SQL";

// Milliseconds until the earliest available job is due (NULL when none).
inline constexpr const char* kNextDue = R"SQL(
  SELECT (extract(epoch FROM min(run_at) - now()) * 1000)::bigint FROM jobs WHERE state = 'available'
)SQL";

// Outcomes, all guarded by `locked_by = $2 AND state = 'running'`: a job whose
// lease this daemon lost is someone else's now.
// $1: ids as a Postgres array literal.
inline constexpr const char* kDeleteSucceeded = R"SQL(
  DELETE FROM jobs WHERE id = ANY($1::bigint[]) AND locked_by = $2 AND state = 'running'
)SQL";
// $1: [{id, delay_ms, error}]
inline constexpr const char* kRetry = R"SQL(
  UPDATE jobs SET state = 'available', run_at = now() + r.delay_ms * interval '1 millisecond',
                  last_error = r.error, locked_by = NULL, locked_until = NULL
  FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, delay_ms bigint, error text)
  WHERE jobs.id = r.id AND jobs.locked_by = $2 AND jobs.state = 'running'
)SQL";
// $1: [{id, delay_ms}]: attempts that did not really run, not counted.
inline constexpr const char* kPostpone = R"SQL(
  UPDATE jobs SET state = 'available', attempts = greatest(jobs.attempts - 1, 0),
                  run_at = now() + r.delay_ms * interval '1 millisecond', locked_by = NULL, locked_until = NULL
  FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, delay_ms bigint)
  WHERE jobs.id = r.id AND jobs.locked_by = $2 AND jobs.state = 'running'
)SQL";
// $1: [{id, state ('failed' or 'discarded'), error}]
inline constexpr const char* kFinish = R"SQL(
  UPDATE jobs SET state = r.state, last_error = r.error, finished_at = now(), locked_by = NULL, locked_until = NULL
  FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, state text, error text)
  WHERE jobs.id = r.id AND jobs.locked_by = $2 AND jobs.state = 'running'
)SQL";

// Exactly the jobs this daemon holds in memory: a row it claimed but lost
// track of (a claim whose commit was in doubt, an outcome lost to the
// unflushed commit) expires and is rescued.
// $1: this daemon's id, $2: lease in ms, $3: the held ids as an array literal.
inline constexpr const char* kRenewLeases = R"SQL(
  UPDATE jobs SET locked_until = now() + $2 * interval '1 millisecond'
  WHERE id = ANY($3::bigint[]) AND locked_by = $1 AND state = 'running'
)SQL";

// Jobs whose daemon died: run again, or failed when out of attempts.
inline constexpr const char* kRescue = R"SQL(
  UPDATE jobs
  SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'available' END,
      finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
      last_error = 'the daemon running it stopped before it finished (its lease expired)',
      run_at = now(), locked_by = NULL, locked_until = NULL
  WHERE state = 'running' AND locked_until < now()
  RETURNING state
)SQL";

// At shutdown: jobs this daemon claimed but never started go back to the
// queue at once, without counting the attempt. Jobs still running are not
// released (they would run twice at once): their outcome, or their lease,
// settles them. $1: this daemon's id, $2: the ids as an array literal.
inline constexpr const char* kRelease = R"SQL(
  UPDATE jobs SET state = 'available', attempts = greatest(attempts - 1, 0), run_at = now(),
                  locked_by = NULL, locked_until = NULL
  WHERE id = ANY($2::bigint[]) AND locked_by = $1 AND state = 'running'
)SQL";

// $1: retention in hours.
inline constexpr const char* kPruneFinished = R"SQL(
  DELETE FROM jobs WHERE state IN ('failed', 'discarded') AND finished_at < now() - $1 * interval '1 hour'
)SQL";
inline constexpr const char* kPruneTaskRuns = R"SQL(
  DELETE FROM scheduled_task_runs WHERE period_start < now() - interval '2 days'
)SQL";

inline constexpr const char* kDepthByState = "SELECT state, count(*) FROM jobs GROUP BY state";

// The admin API's view of the queue (scheduler/job_admin.h).
// $1: state or NULL, $2: instance or NULL, $3: how many. Newest first;
// the payload's size only (an export batch holds many events).
inline constexpr const char* kAdminListJobs = R"SQL(
  SELECT id, instance_id, kind, name, state, attempts, max_attempts,
         to_char(run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         last_error,
         to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         coalesce(octet_length(payload::text), 0)
  FROM jobs
  WHERE ($1::text IS NULL OR state = $1) AND ($2::bigint IS NULL OR instance_id = $2)
  ORDER BY id DESC LIMIT $3
)SQL";
inline constexpr const char* kAdminJobState = "SELECT state FROM jobs WHERE id = $1";
// A failed or discarded job runs again from its first attempt, now.
// $1: its id. (The last error stays until the next outcome.)
inline constexpr const char* kAdminRetryJob = R"SQL(
  UPDATE jobs SET state = 'available', attempts = 0, run_at = now(), finished_at = NULL,
                  locked_by = NULL, locked_until = NULL
  WHERE id = $1 AND state IN ('failed', 'discarded')
  RETURNING id
)SQL";
// The same for every job in `state` ($1: failed or discarded), of one instance ($2) or all.
inline constexpr const char* kAdminRetryJobs = R"SQL(
  WITH retried AS (
    UPDATE jobs SET state = 'available', attempts = 0, run_at = now(), finished_at = NULL,
                    locked_by = NULL, locked_until = NULL
    WHERE state = $1 AND ($2::bigint IS NULL OR instance_id = $2)
      AND NOT (kind = 'task' AND EXISTS (
        SELECT 1 FROM jobs queued WHERE queued.instance_id = jobs.instance_id AND queued.name = jobs.name
          AND queued.kind = 'task' AND queued.state IN ('available', 'running')))
    RETURNING 1
  )
  SELECT count(*) FROM retried
)SQL";
// A job not running goes. $1: its id.
inline constexpr const char* kAdminCancelJob = "DELETE FROM jobs WHERE id = $1 AND state <> 'running' RETURNING id";

// One period of a scheduled task, across every daemon: the period row is
// taken once; the task job is queued only when the previous run of the same
// task has finished (the partial unique index jobs_one_task), so a run never
// overlaps the one before it. $1: instance, $2: task, $3: period start (epoch seconds).
inline constexpr const char* kScheduleTask = R"SQL(
  WITH period AS (
    INSERT INTO scheduled_task_runs (instance_id, task, period_start)
    VALUES ($1, $2, to_timestamp($3))
    ON CONFLICT DO NOTHING
    RETURNING 1
  )
  INSERT INTO jobs (instance_id, kind, name, run_at, max_attempts)
  SELECT $1, 'task', $2, now(), 1 FROM period
  ON CONFLICT DO NOTHING
  RETURNING id
)SQL";

}  // namespace ps::scheduler::sql
