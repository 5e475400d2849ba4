// An instance's kept log: bounded by count and by age.

#include <catch2/catch.hpp>

#include "runtime/instance_log.h"

using ps::runtime::InstanceLog;
using namespace std::chrono_literals;

TEST_CASE("instance log: keeps the latest lines up to its cap, oldest first", "[runtime][logs]") {
  InstanceLog log({3, std::chrono::seconds(3600)});
  auto t = InstanceLog::Clock::now();
  for (int i = 0; i < 5; ++i) log.add("info", "line " + std::to_string(i), t);
  auto lines = log.recent(t);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].text == "line 2");
  CHECK(lines[2].text == "line 4");
  CHECK(lines[2].level == "info");
}

TEST_CASE("instance log: forgets lines older than its retention, and keeps none with a cap of 0", "[runtime][logs]") {
  InstanceLog log({100, std::chrono::seconds(60)});
  auto t = InstanceLog::Clock::now();
  log.add("warn", "old", t);
  log.add("error", "new", t + 50s);
  REQUIRE(log.recent(t + 55s).size() == 2);
  auto later = log.recent(t + 61s);
  REQUIRE(later.size() == 1);
  CHECK(later[0].text == "new");
  CHECK(log.recent(t + 200s).empty());

  InstanceLog none({0, std::chrono::seconds(60)});
  none.add("info", "x", t);
  CHECK(none.recent(t).empty());
}
