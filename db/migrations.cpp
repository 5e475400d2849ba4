#include "db/migrations.h"

#include <stdexcept>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

namespace ps::db {

namespace {
// Arbitrary but fixed: the advisory lock every daemon takes to migrate.
constexpr long long kMigrationLock = 7305104101;
}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = {
      {1, "app instances and storage", R"SQL(
        -- One row per app installed for a team; its id keys storage and jobs,
        -- and stays the same across restarts.
        CREATE TABLE app_instances (
          id          BIGSERIAL PRIMARY KEY,
          app_name    TEXT NOT NULL,
          team_id     BIGINT NOT NULL,
          created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
          UNIQUE (app_name, team_id)
        );
        CREATE TABLE app_storage (
          instance_id BIGINT NOT NULL REFERENCES app_instances (id) ON DELETE CASCADE,
          key         TEXT NOT NULL,
          value       JSONB NOT NULL,
          updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
          PRIMARY KEY (instance_id, key)
        );
      )SQL"},
      {2, "job queue and scheduled task runs", R"SQL(
        -- The job queue. A job is 'available' until a daemon claims it
        -- ('running', with a lease it renews); then it is deleted when it
        -- succeeds, made 'available' again for a retry, or kept as 'failed'
        -- or 'discarded' with its last error until the retention ends.
        CREATE TABLE jobs (
          id           BIGSERIAL PRIMARY KEY,
          instance_id  BIGINT NOT NULL,
          kind         TEXT NOT NULL DEFAULT 'job' CHECK (kind IN ('job', 'task')),
          name         TEXT NOT NULL,
          payload      JSONB,
          state        TEXT NOT NULL DEFAULT 'available'
                       CHECK (state IN ('available', 'running', 'failed', 'discarded')),
          run_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
          attempts     INT NOT NULL DEFAULT 0,
          max_attempts INT NOT NULL,
          locked_by    TEXT,
          locked_until TIMESTAMPTZ,
          last_error   TEXT,
          created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
          started_at   TIMESTAMPTZ,
          finished_at  TIMESTAMPTZ
        );
        -- A queue table turns over all the time: vacuum it far more eagerly
        -- than the defaults, or dead rows slow every claim.
        ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                              autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.05);
        -- The claim: the earliest due available jobs.
        CREATE INDEX jobs_available ON jobs (run_at, id) WHERE state = 'available';
        -- The rescuer: running jobs whose lease ran out.
        CREATE INDEX jobs_running ON jobs (locked_until) WHERE state = 'running';
        -- Retention of failed and discarded jobs.
        CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('failed', 'discarded');
        -- Scheduled tasks: at most one queued or running per instance and task.
        CREATE UNIQUE INDEX jobs_one_task ON jobs (instance_id, name)
          WHERE kind = 'task' AND state IN ('available', 'running');

        -- One row per instance, task and period that has been scheduled, so a
        -- period runs once across every daemon.
        CREATE TABLE scheduled_task_runs (
          instance_id  BIGINT NOT NULL,
          task         TEXT NOT NULL,
          period_start TIMESTAMPTZ NOT NULL,
          created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
          PRIMARY KEY (instance_id, task, period_start)
        );
      )SQL"},
      {3, "quotas: storage and queued jobs per instance", R"SQL(
        -- The size of each entry as the app wrote it (key and JSON text), and
        -- the running total per instance, so the quota check on storage.set
        -- reads one row instead of summing every entry.
        ALTER TABLE app_storage ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;
        UPDATE app_storage SET bytes = octet_length(key) + octet_length(value::text);
        CREATE TABLE app_storage_usage (
          instance_id BIGINT PRIMARY KEY REFERENCES app_instances (id) ON DELETE CASCADE,
          bytes       BIGINT NOT NULL DEFAULT 0
        );
        INSERT INTO app_storage_usage (instance_id, bytes)
          SELECT instance_id, sum(bytes) FROM app_storage GROUP BY instance_id;
        -- How many jobs an instance has waiting (the queued-jobs quota).
        CREATE INDEX jobs_available_by_instance ON jobs (instance_id, run_at, id) WHERE state = 'available';
      )SQL"},
      {4, "export batches in the job queue", R"SQL(
        -- A batch of events for an app's exportEvents, stored before the
        -- offsets of its events are committed, and run like any job.
        ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
        ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('job', 'task', 'export'));
      )SQL"},
      {5, "app versions and installs", R"SQL(
        -- Every version of an app uploaded through the admin API. A version
        -- never changes: a new upload of other contents is a new version;
        -- the same contents again are the version already there.
        CREATE TABLE app_versions (
          app_name     TEXT NOT NULL,
          version      INT NOT NULL,
          content_hash TEXT NOT NULL,           -- SHA-256 of its files (runtime::content_hash)
          archive      BYTEA NOT NULL,          -- the .tar.gz as uploaded
          code         JSONB NOT NULL,          -- path -> the module as the sandbox runs it (transpiled)
          manifest     JSONB NOT NULL,          -- its plugin.json
          capabilities JSONB NOT NULL,          -- methods, jobs, scheduled tasks (as check-app reports them)
          created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
          PRIMARY KEY (app_name, version),
          UNIQUE (app_name, content_hash)
        );
        -- An app installed for a team: at a pinned version, or the latest
        -- one (version NULL).
        CREATE TABLE app_installs (
          id            BIGSERIAL PRIMARY KEY,
          team_id       BIGINT NOT NULL,
          app_name      TEXT NOT NULL,
          version       INT,
          config        JSONB NOT NULL DEFAULT '{}',
          install_order INT NOT NULL DEFAULT 0,
          enabled       BOOLEAN NOT NULL DEFAULT true,
          load_error    TEXT,                   -- why it does not run, as a daemon last found
          created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
          updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
          UNIQUE (team_id, app_name),
          FOREIGN KEY (app_name, version) REFERENCES app_versions (app_name, version)
        );
      )SQL"},
  };
  return all;
}

int schema_version(pqxx::connection& conn) {
  pqxx::work tx(conn);
  auto exists = tx.exec1("SELECT to_regclass('schema_migrations') IS NOT NULL")[0].as<bool>();
  if (!exists) return 0;
  return tx.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0].as<int>();
}

int migrate(pqxx::connection& conn) {
  pqxx::work tx(conn);
  tx.exec1("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")");
  tx.exec0(R"SQL(
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version     INT PRIMARY KEY,
      name        TEXT NOT NULL,
      applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
    ))SQL");
  int current = tx.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0].as<int>();
  int latest = migrations().empty() ? 0 : migrations().back().version;
  if (current > latest) {
    throw std::runtime_error("database schema is at version " + std::to_string(current) +
                             ", newer than this binary knows (" + std::to_string(latest) +
                             "): run a newer plugin-server");
  }
  int applied = 0;
  for (const auto& m : migrations()) {
    if (m.version <= current) continue;
    spdlog::info("applying schema migration {}: {}", m.version, m.name);
    tx.exec0(m.sql);
    tx.exec_params0("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name);
    ++applied;
  }
  tx.commit();
  return applied;
}

}  // namespace ps::db
