#include <catch2/catch.hpp>

#include <thread>

#include "ingestion/in_flight.h"

using ps::ingestion::InFlight;
using ps::ingestion::PendingEvent;
using Admission = InFlight::Admission;
using namespace std::chrono_literals;

namespace {
PendingEvent pending(int32_t partition, int64_t offset, const std::string& key) {
  PendingEvent e;
  e.partition = partition;
  e.offset = offset;
  e.key = key;
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
  CHECK_FALSE(f.wait_until_at_most(2, 20ms));
  std::thread settler([&] {
    std::this_thread::sleep_for(20ms);
    f.settle(0, 0, generation);
    f.settle(0, 1, generation);
  });
  CHECK(f.wait_until_at_most(2, 10s));
  settler.join();
  CHECK(f.count() == 2);
}
