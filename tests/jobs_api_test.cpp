// The jobs API as apps see it (the user's specification), against a sink
// that records what would be enqueued.

#include <catch2/catch.hpp>

#include <mutex>

#include <nlohmann/json.hpp>

#include "tests/support/sandbox_harness.h"

using ps::runtime::Failure;
using ps::runtime::JobRequest;
using ps::test::SandboxHarness;
using nlohmann::json;

namespace {

class RecordingSink : public ps::runtime::JobSink {
 public:
  void enqueue(JobRequest job, std::function<void(std::optional<std::string>)> done) override {
    {
      std::lock_guard lock(mutex);
      jobs.push_back(std::move(job));
    }
    done(fail ? std::optional<std::string>("database is down") : std::nullopt);
  }
  std::vector<JobRequest> taken() {
    std::lock_guard lock(mutex);
    return jobs;
  }
  bool fail = false;

 private:
  std::mutex mutex;
  std::vector<JobRequest> jobs;
};

long long millis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// An app whose processEvent runs `body` (with `jobs` from meta) and stores e.properties.out.
std::map<std::string, std::string> app(const std::string& body) {
  return {{"index.js", R"(
    export const jobs = {
      withPayload: (payload, meta) => { meta.global.got = payload },
      noPayload: (meta) => { meta.global.meta = typeof meta.storage },
    }
    export async function processEvent(e, { jobs }) {
)" + body + R"(
      return e
    })"}};
}

json out_of(const ps::runtime::CallOutcome& outcome) {
  REQUIRE(outcome.ok());
  return json::parse(*outcome.value)["properties"]["out"];
}

}  // namespace

TEST_CASE("jobs api: every runIn unit, singular and plural, with calendar months in UTC", "[jobs][api]") {
  RecordingSink sink;
  ps::runtime::HostServices host;
  host.jobs = &sink;
  SandboxHarness h(app(R"(
      const now = Date.UTC(2024, 0, 31, 12, 0, 0)   // Jan 31 2024, a leap year
      Date.now = () => now
      const cases = [[1500, 'milliseconds'], [1, 'millisecond'], [30, 'seconds'], [1, 'second'], [2, 'minutes'],
                     [1, 'minute'], [3, 'hours'], [1, 'hour'], [2, 'days'], [1, 'day'], [1, 'weeks'], [2, 'week'],
                     [1, 'month'], [1, 'months'], [13, 'months'], [1, 'quarter'], [2, 'quarters'], [1, 'year'],
                     [4, 'years'], [0, 'seconds'], [1.5, 'months']]
      for (const [n, unit] of cases) await jobs.withPayload({ n, unit }).runIn(n, unit)
      Date.now = () => Date.UTC(2023, 0, 31, 12, 0, 0)
      await jobs.withPayload('2023').runIn(1, 'month')
      Date.now = () => Date.UTC(2024, 1, 29, 0, 0, 0)
      await jobs.withPayload('leap').runIn(1, 'year')
  )"), {}, host);
  REQUIRE(h.process_event(R"({"team_id":1,"properties":{}})").ok());
  auto jobs = sink.taken();
  REQUIRE(jobs.size() == 23);
  const long long now = 1706702400000;  // 2024-01-31T12:00:00Z
  const long long day = 86400000;
  std::vector<long long> expected = {
      now + 1500, now + 1, now + 30000, now + 1000, now + 120000, now + 60000, now + 3 * 3600000LL,
      now + 3600000, now + 2 * day, now + day, now + 7 * day, now + 14 * day,
      1709208000000,  // Feb 29 2024 12:00 (Jan 31 + 1 month, clamped)
      1709208000000,
      1740744000000,  // Feb 28 2025 12:00 (13 months)
      1714478400000,  // Apr 30 2024 12:00 (a quarter)
      1722427200000,  // Jul 31 2024 12:00
      1738324800000,  // Jan 31 2025 12:00
      1832932800000,  // Jan 31 2028 12:00
      now,
      1709208000000 + 31 * day / 2,  // half of the month from Feb 29 to Mar 31
      1677585600000,  // Feb 28 2023 12:00 (Jan 31 2023 + 1 month)
      1740700800000,  // Feb 28 2025 00:00 (Feb 29 2024 + 1 year)
  };
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO(i << ": " << jobs[i].payload_json.value_or("-"));
    CHECK(millis(jobs[i].run_at) == expected[i]);
    CHECK(jobs[i].name == "withPayload");
    CHECK(jobs[i].instance == 1);
  }
}

TEST_CASE("jobs api: bad units and durations reject, listing the accepted units", "[jobs][api]") {
  RecordingSink sink;
  ps::runtime::HostServices host;
  host.jobs = &sink;
  SandboxHarness h(app(R"(
      const errors = []
      for (const [n, unit] of [[1, 'ms'], [1, 'sec'], [1, 'Seconds'], [1, 5], [1, undefined], [-1, 'seconds'],
                               [NaN, 'seconds'], [Infinity, 'days'], ['10', 'seconds']]) {
        try { await jobs.withPayload(1).runIn(n, unit); errors.push('accepted') }
        catch (err) { errors.push(err.constructor.name + ': ' + err.message) }
      }
      e.properties.out = errors
  )"), {}, host);
  auto errors = out_of(h.process_event(R"({"team_id":1,"properties":{}})"));
  REQUIRE(errors.size() == 9);
  for (int i = 0; i < 5; ++i) {
    INFO(errors[i]);
    CHECK(errors[i].get<std::string>().find("TypeError: runIn: unknown unit") == 0);
    CHECK(errors[i].get<std::string>().find("accepted units are 'milliseconds', 'seconds', 'minutes', 'hours', "
                                            "'days', 'weeks', 'months', 'quarters', 'years' (or the singular)") !=
          std::string::npos);
  }
  for (int i = 5; i < 9; ++i) {
    INFO(errors[i]);
    CHECK(errors[i].get<std::string>().find("TypeError: runIn: the duration must be a finite, non-negative number") == 0);
  }
  CHECK(sink.taken().empty());
}

TEST_CASE("jobs api: runAt takes a valid Date, the past is allowed, runNow is now", "[jobs][api]") {
  RecordingSink sink;
  ps::runtime::HostServices host;
  host.jobs = &sink;
  SandboxHarness h(app(R"(
      const errors = []
      for (const d of ['2024-01-01', 1700000000000, new Date('not a date'), undefined]) {
        try { await jobs.withPayload(1).runAt(d); errors.push('accepted') }
        catch (err) { errors.push(err.constructor.name + ': ' + err.message) }
      }
      const results = [
        await jobs.withPayload('past').runAt(new Date(Date.UTC(2000, 0, 1))),
        await jobs.withPayload('now').runNow(),
      ]
      e.properties.out = { errors, results, now: Date.now() }
  )"), {}, host);
  auto out = out_of(h.process_event(R"({"team_id":1,"properties":{}})"));
  REQUIRE(out["errors"].size() == 4);
  for (const auto& e : out["errors"]) CHECK(e.get<std::string>().find("TypeError: runAt expects a valid Date") == 0);
  // "All jobs return a promise that does not resolve to any value."
  CHECK(out["results"] == json::array({nullptr, nullptr}));
  auto jobs = sink.taken();
  REQUIRE(jobs.size() == 2);
  CHECK(millis(jobs[0].run_at) == 946684800000);
  CHECK(std::llabs(millis(jobs[1].run_at) - out["now"].get<long long>()) < 1000);
}

TEST_CASE("jobs api: payloads are any JSON value, optional, and checked", "[jobs][api]") {
  RecordingSink sink;
  ps::runtime::HostServices host;
  host.jobs = &sink;
  SandboxHarness h(app(R"(
      await jobs.noPayload().runNow()
      await jobs.withPayload(null).runNow()
      await jobs.withPayload([1, 'two', { three: 3 }]).runNow()
      await jobs.withPayload('text').runNow()
      const cyclic = { a: 1 }; cyclic.self = cyclic
      const errors = []
      for (const bad of [() => 1, { nested: { fn() {} } }, cyclic, 10n, [Symbol('s')], 'x'.repeat(2000000)]) {
        try { await jobs.withPayload(bad).runNow(); errors.push('accepted') }
        catch (err) { errors.push(err.constructor.name + ': ' + err.message) }
      }
      try { await jobs.nope({}).runIn(1, 'second') } catch (err) { errors.push(err.constructor.name + ': ' + err.message) }
      e.properties.out = errors
  )"), {}, host);
  auto errors = out_of(h.process_event(R"({"team_id":1,"properties":{}})"));
  REQUIRE(errors.size() == 7);
  CHECK(errors[0] == "TypeError: the job payload cannot hold a function (at payload)");
  CHECK(errors[1] == "TypeError: the job payload cannot hold a function (at payload.nested.fn)");
  CHECK(errors[2] == "TypeError: the job payload has a cycle (at payload.self)");
  CHECK(errors[3] == "TypeError: the job payload cannot hold a bigint (at payload)");
  CHECK(errors[4] == "TypeError: the job payload cannot hold a symbol (at payload[0])");
  CHECK(errors[5].get<std::string>().find("RangeError: the job payload is 2000002 bytes, over the limit of 1048576") == 0);
  CHECK(errors[6] == "TypeError: unknown job \"nope\": this app's jobs are withPayload, noPayload");
  auto jobs = sink.taken();
  REQUIRE(jobs.size() == 4);
  CHECK_FALSE(jobs[0].payload_json.has_value());
  CHECK(jobs[0].name == "noPayload");
  CHECK(jobs[1].payload_json == "null");
  CHECK(jobs[2].payload_json == R"([1,"two",{"three":3}])");
  CHECK(jobs[3].payload_json == "\"text\"");
}

TEST_CASE("jobs api: an enqueue that fails rejects with the reason", "[jobs][api]") {
  RecordingSink sink;
  sink.fail = true;
  ps::runtime::HostServices host;
  host.jobs = &sink;
  SandboxHarness h(app(R"(
      try { await jobs.withPayload(1).runNow(); e.properties.out = 'resolved' }
      catch (err) { e.properties.out = err.message }
  )"), {}, host);
  CHECK(out_of(h.process_event(R"({"team_id":1,"properties":{}})")) ==
        "the job could not be enqueued: database is down");
}

TEST_CASE("jobs api: module code can schedule through its own exported jobs object", "[jobs][api]") {
  RecordingSink sink;
  ps::runtime::HostServices host;
  host.jobs = &sink;
  SandboxHarness h({{"index.js", R"(
    export const jobs = { again: async (request, meta) => { await later(request) } }
    async function later(request) { await jobs.again(request).runIn(30, 'seconds') }
    export async function processEvent(event) { await later({ url: 'x' }); return event }
  )"}}, {}, host);
  REQUIRE(h.process_event(R"({"team_id":1,"properties":{}})").ok());
  auto jobs = sink.taken();
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].name == "again");
  CHECK(jobs[0].payload_json == R"({"url":"x"})");
  // And the job itself runs the original function, which schedules again.
  REQUIRE(h.on_thread([] { return true; }));
  auto ran = h.run_job("again", R"({"url":"y"})");
  CHECK(ran.ok());
  CHECK(sink.taken().size() == 2);
}

TEST_CASE("jobs api: a job gets (payload, meta), or (meta) alone, async jobs are awaited", "[jobs][api]") {
  SandboxHarness h(std::map<std::string, std::string>{{"index.js", R"(
    export const jobs = {
      two: (payload, meta) => { meta.global.seen = ['two', payload, typeof meta.storage] },
      one: (meta) => { meta.global.seen = ['one', typeof meta.storage] },
      slow: async (payload, meta) => { await null; await null; meta.global.seen = ['slow', payload] },
      boom: async () => { throw new Error('job failed') },
    }
    export function processEvent(e, { global }) { e.properties.out = global.seen; return e }
  )"}}, {});
  auto seen = [&] { return out_of(h.process_event(R"({"team_id":1,"properties":{}})")); };
  REQUIRE(h.run_job("two", R"({"a":1})").ok());
  CHECK(seen() == json::array({"two", {{"a", 1}}, "object"}));
  REQUIRE(h.run_job("one", std::nullopt).ok());
  CHECK(seen() == json::array({"one", "object"}));
  REQUIRE(h.run_job("slow", "5").ok());
  CHECK(seen() == json::array({"slow", 5}));
  auto boom = h.run_job("boom", std::nullopt);
  CHECK(boom.failure == Failure::Error);
  CHECK(boom.error == "Error: job failed");
  CHECK(h.run_job("missing", std::nullopt).error == "the app has no job \"missing\"");
}
