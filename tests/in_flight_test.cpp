#include <catch2/catch.hpp>

#include <thread>

#include "ingestion/in_flight.h"

using ps::ingestion::InFlight;
using ps::ingestion::PendingEvent;
using Admission = InFlight::Admission;
using namespace std::chrono_literals;

namespace {
PendingEvent pending(int32_t partition, int64_t offset, const std::string& key, long long team = 1) {
  PendingEvent e;
  e.partition = partition;
  e.offset = offset;
  e.key = key;
  e.event.team_id = team;
  e.event.json = "{}";
  return e;
}
}  // namespace

TEST_CASE("in flight: events of one key wait for each other, other keys run side by side", "[ingestion][in-flight]") {
  InFlight f;
  f.assign(0);
  auto a0 = pending(0, 0, "1:a"), b1 = pending(0, 1, "1:b"), a2 = pending(0, 2, "1:a"), a3 = pending(0, 3, "1:a");
  CHECK(f.admit(a0) == Admission::run_now);
  CHECK(f.admit(b1) == Admission::run_now);
  CHECK(f.admit(a2) == Admission::waits_for_key);
  CHECK(f.admit(a3) == Admission::waits_for_key);
  auto next = f.key_done(0, a0.generation, "1:a");
  REQUIRE(next);
  CHECK(next->offset == 2);
  next = f.key_done(0, a0.generation, "1:a");
  REQUIRE(next);
  CHECK(next->offset == 3);
  CHECK_FALSE(f.key_done(0, a0.generation, "1:a"));
  // The key is free again.
  auto a4 = pending(0, 4, "1:a");
  CHECK(f.admit(a4) == Admission::run_now);
  CHECK_FALSE(f.key_done(0, b1.generation, "1:b"));
  CHECK(f.count() == 5);
}

TEST_CASE("in flight: commits stop below the lowest unsettled offset", "[ingestion][in-flight]") {
  InFlight f;
  f.assign(3);
  for (int64_t offset = 10; offset < 15; ++offset) {
    auto e = pending(3, offset, "k" + std::to_string(offset));
    REQUIRE(f.admit(e) == Admission::run_now);
  }
  int generation = *f.track(3, 15);
  f.settle(3, 11, generation);
  f.settle(3, 12, generation);
  auto targets = f.take_commit_targets();
  REQUIRE(targets.size() == 1);
  CHECK(targets[0].offset == 10);
  CHECK(f.take_commit_targets().empty());  // nothing moved
  f.settle(3, 10, generation);
  CHECK(f.take_commit_targets()[0].offset == 13);
  for (int64_t offset : {13, 14, 15}) f.settle(3, offset, generation);
  CHECK(f.take_commit_targets()[0].offset == 16);
  CHECK(f.count() == 0);
}

TEST_CASE("in flight: a revoked partition forgets its work, and late settles change nothing", "[ingestion][in-flight]") {
  InFlight f;
  f.assign(0);
  f.assign(1);
  auto old = pending(0, 5, "k");
  REQUIRE(f.admit(old) == Admission::run_now);
  int other = *f.track(1, 7);
  CHECK(f.count() == 2);
  f.revoke(0);
  CHECK(f.count() == 1);
  CHECK(f.partitions() == 1);
  CHECK_FALSE(f.track(0, 6));
  auto late = pending(0, 6, "k");
  CHECK(f.admit(late) == Admission::not_assigned);

  // Assigned again: the old generation's settle and key release are ignored.
  f.assign(0);
  auto fresh = pending(0, 5, "k");
  REQUIRE(f.admit(fresh) == Admission::run_now);
  f.settle(0, 5, old.generation);
  CHECK_FALSE(f.key_done(0, old.generation, "k"));
  CHECK(f.count() == 2);
  auto behind = pending(0, 6, "k");
  CHECK(f.admit(behind) == Admission::waits_for_key);
  f.settle(1, 7, other);
  CHECK(f.count() == 2);
}

TEST_CASE("in flight: waiting for room ends when enough settles, or at the timeout", "[ingestion][in-flight]") {
  InFlight f;
  f.assign(0);
  int generation = 0;
  for (int64_t offset = 0; offset < 4; ++offset) generation = *f.track(0, offset);
  CHECK_FALSE(f.wait_for_room(2, 0, 20ms));
  std::thread settler([&] {
    std::this_thread::sleep_for(20ms);
    f.settle(0, 0, generation);
    f.settle(0, 1, generation);
  });
  CHECK(f.wait_for_room(2, 0, 10s));
  settler.join();
  CHECK(f.count() == 2);
}

TEST_CASE("in flight: a team over its share is parked in order while other teams run", "[ingestion][in-flight]") {
  InFlight f(2);
  f.assign(0);
  f.assign(1);
  // Team 7 fills its share of two; its next events park, whatever the key.
  auto a0 = pending(0, 0, "7:a", 7), b1 = pending(0, 1, "7:b", 7), c2 = pending(0, 2, "7:c", 7);
  auto a3 = pending(1, 0, "7:a", 7);
  CHECK(f.admit(a0) == Admission::run_now);
  CHECK(f.admit(b1) == Admission::run_now);
  CHECK(f.admit(c2) == Admission::parked);
  CHECK(f.admit(a3) == Admission::parked);
  // Team 8 is not held back by team 7's share.
  auto other = pending(0, 3, "8:x", 8);
  CHECK(f.admit(other) == Admission::run_now);
  CHECK(f.count() == 3);
  CHECK(f.parked_events() == 2);
  CHECK(f.parked_bytes() > 0);
  auto summary = f.parked();
  CHECK(summary.largest_team == 7);
  CHECK(summary.largest_team_events == 2);
  // Nothing parked commits, and a parked event cannot settle before it ran.
  CHECK_FALSE(f.settle(0, 2, c2.generation));
  f.settle(0, 3, other.generation);
  // Each partition commits up to its lowest unsettled offset: 0 in both.
  auto targets = f.take_commit_targets();
  REQUIRE(targets.size() == 2);
  CHECK(targets[0].offset == 0);
  CHECK(targets[1].offset == 0);

  // Settling one of team 7's lets its oldest parked event in.
  CHECK_FALSE(f.key_done(0, b1.generation, "7:b"));
  auto next = f.settle(0, 1, b1.generation);
  REQUIRE(next);
  CHECK(next->offset == 2);
  CHECK(next->partition == 0);
  // The next parked one (partition 1) waits behind nothing of its own key.
  CHECK_FALSE(f.key_done(0, a0.generation, "7:a"));
  next = f.settle(0, 0, a0.generation);
  REQUIRE(next);
  CHECK(next->partition == 1);
  CHECK(f.parked_events() == 0);
  CHECK(f.count() == 2);
  CHECK_FALSE(f.settle(0, 2, c2.generation));
  CHECK(f.count() == 1);
  CHECK(f.take_commit_targets()[0].offset == 4);
}

TEST_CASE("in flight: a team's parked events stay behind each other, across keys", "[ingestion][in-flight]") {
  InFlight f(1);
  f.assign(0);
  auto first = pending(0, 0, "7:a", 7), second = pending(0, 1, "7:b", 7), third = pending(0, 2, "7:c", 7);
  CHECK(f.admit(first) == Admission::run_now);
  CHECK(f.admit(second) == Admission::parked);
  CHECK(f.admit(third) == Admission::parked);
  f.key_done(0, first.generation, "7:a");
  auto next = f.settle(0, 0, first.generation);
  REQUIRE(next);
  CHECK(next->offset == 1);
  // Room for one more of team 7 only once offset 1 settles.
  auto fourth = pending(0, 3, "7:d", 7);
  CHECK(f.admit(fourth) == Admission::parked);
  f.key_done(0, next->generation, "7:b");
  next = f.settle(0, 1, next->generation);
  REQUIRE(next);
  CHECK(next->offset == 2);
  // A parked event whose key is running enters the window behind that key:
  // key_done() hands it out, not settle().
  auto fifth = pending(0, 4, "7:c", 7);
  CHECK(f.admit(fifth) == Admission::parked);
  // Offset 2 settles before its key is released (its output acknowledged
  // before the chain's completion returns): offset 3 comes in.
  auto after = f.settle(0, 2, next->generation);
  REQUIRE(after);
  CHECK(after->offset == 3);
  CHECK(f.key_done(0, after->generation, "7:d") == std::nullopt);
  CHECK_FALSE(f.settle(0, 3, after->generation));  // offset 4 waits behind key 7:c
  auto behind = f.key_done(0, after->generation, "7:c");
  REQUIRE(behind);
  CHECK(behind->offset == 4);
}

TEST_CASE("in flight: revoking a partition drops its parked events and lets other partitions' in", "[ingestion][in-flight]") {
  InFlight f(1);
  f.assign(0);
  f.assign(1);
  auto running = pending(0, 0, "7:a", 7), parked_here = pending(0, 1, "7:b", 7), parked_there = pending(1, 0, "7:c", 7);
  CHECK(f.admit(running) == Admission::run_now);
  CHECK(f.admit(parked_here) == Admission::parked);
  CHECK(f.admit(parked_there) == Admission::parked);
  auto runnable = f.revoke(0);
  REQUIRE(runnable.size() == 1);
  CHECK(runnable[0].partition == 1);
  CHECK(runnable[0].offset == 0);
  CHECK(f.parked_events() == 0);
  CHECK(f.parked_bytes() == 0);
  CHECK(f.count() == 1);
  // The revoked partition's running event settles late: nothing changes.
  CHECK_FALSE(f.settle(0, 0, running.generation));
  CHECK(f.count() == 1);
  CHECK_FALSE(f.wait_until_settled(10ms));
  f.key_done(1, runnable[0].generation, "7:c");
  f.settle(1, 0, runnable[0].generation);
  CHECK(f.wait_until_settled(10ms));
}

TEST_CASE("in flight: waiting for room counts parked bytes too", "[ingestion][in-flight]") {
  InFlight f(1);
  f.assign(0);
  auto running = pending(0, 0, "7:a", 7), parked = pending(0, 1, "7:b", 7);
  f.admit(running);
  f.admit(parked);
  auto bytes = f.parked_bytes();
  REQUIRE(bytes > 0);
  CHECK_FALSE(f.wait_for_room(10, bytes - 1, 10ms));
  CHECK(f.wait_for_room(10, bytes, 10ms));
}
