// Jobs end to end in one process: apps enqueue, the queue stores them in
// Postgres and runs them in the apps.

#include <catch2/catch.hpp>

#include <thread>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "scheduler/backoff.h"
#include "scheduler/task_scheduler.h"
#include "tests/support/runtime_harness.h"
#include "tests/support/scripted_server.h"

using namespace std::chrono_literals;
using ps::test::RuntimeHarness;
using ps::test::ScriptedServer;
using nlohmann::json;

namespace {
// The seed's Full example, verbatim but for the URL.
std::string full_example(const std::string& url) {
  return R"(export const jobs = {
continueSearchingForTheTeapot: async (request, meta) => {
await lookForTheTeapot(request)
}
}
async function lookForTheTeapot (request) {
const res = await fetch(request.url)
if (res.status !== 418) {
await jobs.continueSearchingForTheTeapot(request).runIn(30, 'seconds')
return
}
console.log('found the teapot!')
}
export async function processEvent (event, { jobs }) {
const request = { url: ')" + url + R"(' }
await lookForTheTeapot(request)
return event
}
)";
}

void process(RuntimeHarness& h, const std::string& event = R"({"event":"e","team_id":1,"properties":{}})") {
  auto r = h.runtime().chain().process(1, event).get();
  REQUIRE(r.failed.empty());
}
}  // namespace

TEST_CASE("queue: the seed's Full example runs as written, the chain stops at the 418", "[jobs][queue]") {
  ScriptedServer server({200, 200, 418});
  auto h = RuntimeHarness::with_jobs();
  auto app = h->write_app("teapot", {{"index.js", full_example(server.base() + "/teapot")}});
  h->load({RuntimeHarness::entry(app, {1})});

  process(*h);  // fetch 1 (200) and the first job, 30 s ahead
  CHECK(server.hits("/teapot") == 1);
  // Enqueued durably before processEvent's promise resolved, 30 s ahead.
  auto ahead = std::stod(h->query("SELECT extract(epoch FROM run_at - now()) FROM jobs"));
  CHECK(ahead > 25);
  CHECK(ahead <= 30.5);
  CHECK(h->query("SELECT name FROM jobs") == "continueSearchingForTheTeapot");
  CHECK(h->query("SELECT payload::text FROM jobs") == json({{"url", server.base() + "/teapot"}}).dump(-1).insert(7, " "));

  // Fast-forward time for the job instead of waiting 30 s: it runs, fetches
  // (200) and schedules the next one; fast-forward that one too: 418.
  for (int step = 2; step <= 3; ++step) {
    // The next job is queued only after the previous one's fetch is seen.
    REQUIRE(h->wait_for("SELECT count(*) FROM jobs WHERE state = 'available'", "1") == "1");
    h->query("UPDATE jobs SET run_at = now() WHERE state = 'available' RETURNING id");
    for (int i = 0; i < 400 && server.hits("/teapot") < step; ++i) std::this_thread::sleep_for(25ms);
    CHECK(server.hits("/teapot") == step);
  }
  // After the 418 nothing is scheduled any more, and the last job succeeded.
  CHECK(h->wait_for("SELECT count(*) FROM jobs", "0") == "0");
  std::this_thread::sleep_for(300ms);
  CHECK(server.hits("/teapot") == 3);
}

TEST_CASE("queue: a copy of the Full example with a short runIn runs the whole chain by itself", "[jobs][queue]") {
  ScriptedServer server({200, 200, 418});
  auto h = RuntimeHarness::with_jobs();
  auto source = full_example(server.base() + "/teapot");
  source.replace(source.find("runIn(30, 'seconds')"), 20, "runIn(100, 'milliseconds')");
  auto app = h->write_app("teapot", {{"index.js", source}});
  h->load({RuntimeHarness::entry(app, {1})});
  process(*h);
  for (int i = 0; i < 400 && server.hits("/teapot") < 3; ++i) std::this_thread::sleep_for(25ms);
  CHECK(h->wait_for("SELECT count(*) FROM jobs", "0") == "0");
  std::this_thread::sleep_for(500ms);
  CHECK(server.hits("/teapot") == 3);
}

TEST_CASE("queue: jobs run with their payload, or with meta alone, async jobs are awaited", "[jobs][queue]") {
  auto h = RuntimeHarness::with_jobs();
  auto app = h->write_app("worker", {{"index.js", R"(
    export const jobs = {
      remember: async (payload, { storage }) => { await null; await storage.set('payload', payload) },
      bare: async (meta) => { await meta.storage.set('bare', Object.keys(meta).sort()) },
    }
    export async function processEvent(e, { jobs }) {
      await jobs.remember({ n: 1, list: ['a'] }).runNow()
      await jobs.bare().runAt(new Date(0))
      return e
    }
  )"}});
  h->load({RuntimeHarness::entry(app, {1})});
  process(*h);
  CHECK(h->wait_for("SELECT value::text FROM app_storage WHERE key = 'payload'", R"({"n": 1, "list": ["a"]})") ==
        R"({"n": 1, "list": ["a"]})");
  // meta as the reference gave it (cache, geoip and utils name themselves when used).
  const std::string keys = R"(["attachments", "cache", "config", "geoip", "global", "jobs", "storage", "utils"])";
  CHECK(h->wait_for("SELECT value::text FROM app_storage WHERE key = 'bare'", keys) == keys);
  CHECK(h->wait_for("SELECT count(*) FROM jobs", "0") == "0");
  auto metrics = h->metrics().render();
  CHECK(metrics.find("plugin_server_jobs_enqueued_total{app=\"worker\"} 2") != std::string::npos);
  CHECK(h->wait_for("SELECT 1", "1") == "1");
  for (int i = 0; i < 100 && h->metrics().render().find("plugin_server_jobs_succeeded_total{app=\"worker\"} 2") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(h->metrics().render().find("plugin_server_jobs_succeeded_total{app=\"worker\"} 2") != std::string::npos);
}

TEST_CASE("queue: many concurrent run*() calls are all committed before they resolve", "[jobs][queue]") {
  auto h = RuntimeHarness::with_jobs();
  auto app = h->write_app("burst", {{"index.js", R"(
    export const jobs = { later: () => {} }
    export async function processEvent(e, { jobs }) {
      await Promise.all(Array.from({ length: 500 }, (_, i) => jobs.later(i).runIn(1, 'hour')))
      return e
    }
  )"}});
  h->load({RuntimeHarness::entry(app, {1})});
  process(*h);
  CHECK(h->query("SELECT count(*) FROM jobs WHERE name = 'later' AND state = 'available'") == "500");
  CHECK(h->query("SELECT count(DISTINCT payload) FROM jobs") == "500");
}

TEST_CASE("queue: a failing job is retried with backoff, then kept as failed with its error", "[jobs][queue]") {
  auto h = RuntimeHarness::with_jobs();
  auto app = h->write_app("flaky", {{"index.js", R"(
    export const jobs = { doomed: async (payload, { storage }) => {
      const n = (await storage.get('tries', 0)) + 1
      await storage.set('tries', n)
      throw new Error(`try ${n} failed`)
    } }
    export async function processEvent(e, { jobs }) { await jobs.doomed(1).runNow(); return e }
  )"}});
  h->load({RuntimeHarness::entry(app, {1})});
  process(*h);
  CHECK(h->wait_for("SELECT state FROM jobs", "failed") == "failed");
  CHECK(h->query("SELECT attempts FROM jobs") == "3");
  CHECK(h->query("SELECT last_error FROM jobs") == "Error: try 3 failed (attempt 3 of 3)");
  CHECK(h->query("SELECT value::text FROM app_storage WHERE key = 'tries'") == "3");
  CHECK(h->query("SELECT finished_at IS NOT NULL FROM jobs") == "t");
}

TEST_CASE("queue: a job whose instance is gone or disabled is discarded with the reason", "[jobs][queue]") {
  auto h = RuntimeHarness::with_jobs();
  auto app = h->write_app("present", {{"index.js", "export const jobs = { known: () => {} }"}});
  h->load({RuntimeHarness::entry(app, {1})});
  auto id = h->query("SELECT id FROM app_instances");
  h->query("INSERT INTO jobs (instance_id, name, max_attempts) VALUES (987654, 'x', 3), (" + id +
           ", 'unknownJob', 3) RETURNING id");
  h->query("SELECT pg_notify('plugin_server_jobs', '0')");
  CHECK(h->wait_for("SELECT count(*) FROM jobs WHERE state = 'discarded'", "2") == "2");
  CHECK(h->query("SELECT last_error FROM jobs WHERE instance_id = 987654") ==
        "app instance 987654 is not installed on this daemon");
  CHECK(h->query("SELECT last_error FROM jobs WHERE name = 'unknownJob'").find("has no job unknownJob") !=
        std::string::npos);
}

TEST_CASE("queue: a job scheduled ahead starts on time, woken by its timer", "[jobs][queue]") {
  auto h = RuntimeHarness::with_jobs();
  h->queue_options().poll_interval = 60s;  // the poll must not be what starts it
  auto app = h->write_app("timely", {{"index.js", R"(
    export const jobs = { tick: async (at, { storage }) => { await storage.set('late_ms', Date.now() - at) } }
    export async function processEvent(e, { jobs }) { await jobs.tick(Date.now() + 700).runIn(700, 'milliseconds'); return e }
  )"}});
  h->load({RuntimeHarness::entry(app, {1})});
  process(*h);
  auto late = h->wait_for("SELECT count(*) FROM app_storage WHERE key = 'late_ms'", "1", 10s);
  REQUIRE(late == "1");
  auto late_ms = std::stol(h->query("SELECT value::text FROM app_storage WHERE key = 'late_ms'"));
  CHECK(late_ms >= 0);
  CHECK(late_ms < 1000);
}

TEST_CASE("queue: scheduled tasks run once per period and the period is recorded", "[jobs][queue]") {
  auto h = RuntimeHarness::with_jobs();
  auto app = h->write_app("periodic", {{"index.js", R"(
    export async function runEveryMinute({ storage }) { await storage.set('minute', (await storage.get('minute', 0)) + 1) }
    export async function runEveryDay({ storage }) { await storage.set('day', (await storage.get('day', 0)) + 1) }
  )"}});
  h->load({RuntimeHarness::entry(app, {1})});
  CHECK(h->wait_for("SELECT value::text FROM app_storage WHERE key = 'day'", "1") == "1");
  CHECK(h->wait_for("SELECT count(*) FROM scheduled_task_runs WHERE task = 'runEveryDay'", "1") == "1");
  // Another scheduler on the same database (a second daemon) adds nothing this period.
  h->restart({RuntimeHarness::entry(app, {1})});
  std::this_thread::sleep_for(2500ms);
  CHECK(h->query("SELECT value::text FROM app_storage WHERE key = 'day'") == "1");
  CHECK(h->query("SELECT count(*) FROM scheduled_task_runs WHERE task = 'runEveryDay'") == "1");
}

TEST_CASE("queue: retry delays grow exponentially with jitter, up to the cap", "[jobs][queue]") {
  using ps::scheduler::retry_delay;
  CHECK(retry_delay(1, 1000ms, 3600s, 0.5) == 1000ms);
  CHECK(retry_delay(2, 1000ms, 3600s, 0.5) == 2000ms);
  CHECK(retry_delay(5, 1000ms, 3600s, 0.5) == 16000ms);
  CHECK(retry_delay(3, 1000ms, 3600s, 0.0) == 2000ms);
  CHECK(retry_delay(30, 1000ms, 60s, 0.9) == 60s);
}

TEST_CASE("queue: task periods are UTC minutes, hours and days", "[jobs][queue]") {
  auto at = std::chrono::system_clock::time_point(std::chrono::seconds(1706702461));  // 2024-01-31T12:01:01Z
  CHECK(ps::scheduler::period_start("runEveryMinute", at) == 1706702460);
  CHECK(ps::scheduler::period_start("runEveryHour", at) == 1706702400);
  CHECK(ps::scheduler::period_start("runEveryDay", at) == 1706659200);
}

TEST_CASE("queue: an error text with U+0000 is stored, and the other outcomes of its batch too", "[jobs][queue]") {
  auto h = RuntimeHarness::with_jobs();
  auto app = h->write_app("nul", {{"index.js", R"(
    export const jobs = {
      poison: async () => { throw new Error('bad\u0000thing') },
      fine: async (i, { storage }) => { await storage.set('fine' + i, true) },
    }
    export async function processEvent(e, { jobs }) {
      const all = [jobs.poison().runNow()]
      for (let i = 0; i < 20; i++) all.push(jobs.fine(i).runNow())
      await Promise.all(all)
      return e
    }
  )"}});
  h->load({RuntimeHarness::entry(app, {1})});
  process(*h);
  CHECK(h->wait_for("SELECT state FROM jobs WHERE name = 'poison'", "failed") == "failed");
  CHECK(h->query("SELECT last_error FROM jobs WHERE name = 'poison'") == "Error: bad\xEF\xBF\xBDthing (attempt 3 of 3)");
  CHECK(h->wait_for("SELECT count(*) FROM jobs WHERE name = 'fine'", "0") == "0");
  CHECK(h->query("SELECT count(*) FROM app_storage WHERE key LIKE 'fine%'") == "20");
}

TEST_CASE("queue: a payload Postgres cannot store is refused alone, the jobs beside it are kept", "[jobs][queue]") {
  auto h = RuntimeHarness::with_jobs();
  auto app = h->write_app("mixed", {{"index.js", R"(
    export const jobs = { later: () => {} }
    export async function processEvent(e, { jobs }) {
      const results = await Promise.allSettled([
        jobs.later('a\u0000b').runIn(1, 'hour'), jobs.later('\ud800').runIn(1, 'hour'),
        jobs.later({ ok: 1 }).runIn(1, 'hour'), jobs.later({ ok: 2 }).runIn(1, 'hour'),
      ])
      e.properties.out = results.map((r) => r.status === 'fulfilled' ? 'ok' : r.reason.message)
      return e
    }
  )"}});
  h->load({RuntimeHarness::entry(app, {1})});
  auto r = h->runtime().chain().process(1, R"({"event":"e","team_id":1,"properties":{}})").get();
  REQUIRE(r.event);
  auto out = json::parse(*r.event)["properties"]["out"];
  CHECK(out[0] == "the job could not be enqueued: the payload cannot be stored: it holds \\u0000, which Postgres cannot store");
  CHECK(out[1].get<std::string>().find("unpaired surrogate") != std::string::npos);
  CHECK(out[2] == "ok");
  CHECK(out[3] == "ok");
  CHECK(h->query("SELECT count(*) FROM jobs WHERE name = 'later'") == "2");
}

TEST_CASE("queue: only jobs the daemon holds keep their leases, a lost one is rescued", "[jobs][queue]") {
  auto h = RuntimeHarness::with_jobs();
  h->queue_options().worker_id = "this-daemon";
  auto app = h->write_app("lost", {{"index.js", "export const jobs = { j: async (p, { storage }) => { await storage.set('ran', p) } }"}});
  h->load({RuntimeHarness::entry(app, {1})});
  auto id = h->query("SELECT id FROM app_instances");
  // A row this daemon's id holds in Postgres but not in memory (a claim
  // whose commit was in doubt, an outcome lost): once renewed forever.
  h->query("INSERT INTO jobs (instance_id, name, payload, state, attempts, max_attempts, locked_by, locked_until) VALUES (" +
           id + ", 'j', '7', 'running', 1, 3, 'this-daemon', now() + interval '2 seconds') RETURNING id");
  CHECK(h->wait_for("SELECT value::text FROM app_storage WHERE key = 'ran'", "7", 30s) == "7");
  // Its outcome is written after the job's own storage write: wait for it.
  CHECK(h->wait_for("SELECT count(*) FROM jobs", "0") == "0");
}

TEST_CASE("queue: jobs whose claim lands while the queue stops go back uncounted, none is left held", "[jobs][queue]") {
  auto h = RuntimeHarness::with_jobs();
  auto app = h->write_app("late", {{"index.js", "export const jobs = { j: async (p, { storage }) => { await storage.set('ran:' + p, true) } }"}});
  h->load({RuntimeHarness::entry(app, {1})});
  auto id = h->query("SELECT id FROM app_instances");
  // The next claim waits on this lock; the jobs appear when it is released.
  pqxx::connection conn(h->database().url());
  pqxx::work locker(conn);
  locker.exec0("LOCK TABLE jobs IN EXCLUSIVE MODE");
  locker.exec0("INSERT INTO jobs (instance_id, name, payload, max_attempts) SELECT " + id +
               ", 'j', i::text::jsonb, 3 FROM generate_series(1, 5) AS i");
  // The claim is waiting (the rescuer may be waiting beside it).
  REQUIRE(h->wait_for("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                      "wait_event_type = 'Lock' AND query LIKE '%SKIP LOCKED%'", "1") == "1");
  std::thread stopper([&] { h->stop_queue(5s); });
  // The stop is under way when the claim lands.
  std::this_thread::sleep_for(300ms);
  locker.commit();
  stopper.join();
  // Each job either ran once (it started before the stop) or is waiting again with its attempt uncounted.
  CHECK(h->query("SELECT count(*) FROM jobs WHERE state <> 'available' OR attempts <> 0") == "0");
  CHECK(std::stoi(h->query("SELECT count(*) FROM jobs")) + std::stoi(h->query("SELECT count(*) FROM app_storage")) == 5);
}

TEST_CASE("queue: claims are shared between instances, so one instance's backlog does not hold another's job back",
          "[jobs][queue][fair]") {
  auto h = RuntimeHarness::with_jobs();
  h->queue_options().workers = 1;
  h->queue_options().prefetch = 10;
  // 20 ms a job on one worker slot: the backlog takes seconds to drain.
  auto app = h->write_app("busy", {{"index.js", "export const jobs = { slow: () => new Promise((r) => setTimeout(r, 20)) }\n"}});
  // Two instances: team 1's has a backlog due an hour ago, team 2's one job due now.
  h->load({RuntimeHarness::entry(app, {1, 2})});
  h->stop_queue(5s);
  auto first = h->query("SELECT id FROM app_instances WHERE team_id = 1");
  auto second = h->query("SELECT id FROM app_instances WHERE team_id = 2");
  h->query("INSERT INTO jobs (instance_id, name, payload, run_at, max_attempts) SELECT " + first +
           ", 'slow', 'null', now() - interval '1 hour', 3 FROM generate_series(1, 300) RETURNING 1");
  h->query("INSERT INTO jobs (instance_id, name, payload, run_at, max_attempts) VALUES (" + second +
           ", 'slow', 'null', now(), 3) RETURNING 1");
  h->restart({RuntimeHarness::entry(app, {1, 2})});
  // In due order the single job would wait for all 300; shared, it runs in the first claim.
  CHECK(h->wait_for("SELECT count(*) FROM jobs WHERE instance_id = " + second, "0") == "0");
  auto left = std::stoi(h->query("SELECT count(*) FROM jobs WHERE instance_id = " + first));
  CHECK(left > 250);
  CHECK(h->wait_for("SELECT count(*) FROM jobs", "0", 60s) == "0");
}

TEST_CASE("queue: past jobs.workers_per_team a team's long jobs let another team's job take the next free slot",
          "[jobs][queue][fair]") {
  auto h = RuntimeHarness::with_jobs();
  h->queue_options().workers = 2;
  h->queue_options().workers_per_team = 1;
  h->queue_options().poll_interval = 200ms;
  // A second a job: team 2's job is claimed long before the first slot frees.
  auto app = h->write_app("long", {{"index.js", "export const jobs = { slow: () => new Promise((r) => setTimeout(r, 1000)) }\n"}});
  h->load({RuntimeHarness::entry(app, {1, 2})});
  auto first = h->query("SELECT id FROM app_instances WHERE team_id = 1");
  auto second = h->query("SELECT id FROM app_instances WHERE team_id = 2");
  h->query("INSERT INTO jobs (instance_id, name, payload, max_attempts) SELECT " + first +
           ", 'slow', 'null', 3 FROM generate_series(1, 6) RETURNING 1");
  // Alone, team 1 takes both slots (its six jobs are claimed at once; two run).
  CHECK(h->wait_for("SELECT count(*) FROM jobs WHERE state = 'running'", "6") == "6");
  h->query("INSERT INTO jobs (instance_id, name, payload, max_attempts) VALUES (" + second +
           ", 'slow', 'null', 3) RETURNING 1");
  h->query("SELECT pg_notify('plugin_server_jobs', '0')");
  // Team 2's job takes the first slot that frees; in claim order it would wait for all six.
  CHECK(h->wait_for("SELECT count(*) FROM jobs WHERE instance_id = " + second, "0") == "0");
  CHECK(std::stoi(h->query("SELECT count(*) FROM jobs WHERE instance_id = " + first)) >= 2);
  CHECK(h->wait_for("SELECT count(*) FROM jobs", "0", 30s) == "0");
}
