#include <catch2/catch.hpp>

#include "runtime/console_budget.h"

using ps::runtime::ConsoleBudget;
using ps::runtime::ConsoleLimits;
using namespace std::chrono_literals;

TEST_CASE("console budget: control characters are escaped, so app text cannot forge a log line", "[runtime][console]") {
  ConsoleBudget budget({});
  CHECK(budget.line("one\n[2026-01-01] [info] forged\r\tx\x01\x7f") ==
        "one\\n[2026-01-01] [info] forged\\r\\tx\\x01\\x7f");
  CHECK(budget.line("caf\xc3\xa9 \xe2\x82\xac") == "caf\xc3\xa9 \xe2\x82\xac");
}

TEST_CASE("console budget: long lines are cut on a character boundary, with the full size", "[runtime][console]") {
  ConsoleBudget budget({.max_line_bytes = 10, .lines_per_second = 1});
  CHECK(budget.line("0123456789") == "0123456789");
  CHECK(budget.line("0123456789abc") == "0123456789 ... (truncated, 13 bytes)");
  // A three-byte character that does not fit whole is left out.
  CHECK(budget.line("012345678\xe2\x82\xac") == "012345678 ... (truncated, 12 bytes)");
  CHECK(budget.line("01234567\xc3\xa9x") == "01234567\xc3\xa9 ... (truncated, 11 bytes)");
}

TEST_CASE("console budget: a burst of the rate passes, the rest is dropped and counted until it refills",
          "[runtime][console]") {
  ConsoleBudget budget({.max_line_bytes = 100, .lines_per_second = 10});
  auto t = ConsoleBudget::Clock::time_point() + 1h;
  int passed = 0;
  for (int i = 0; i < 25; ++i) passed += budget.take(t);
  CHECK(passed == 10);
  CHECK(budget.take_dropped() == 15);
  CHECK(budget.take_dropped() == 0);
  CHECK_FALSE(budget.take(t + 50ms));  // half a token
  CHECK(budget.take(t + 150ms));       // a whole one since
  CHECK(budget.take_dropped() == 1);
  passed = 0;
  for (int i = 0; i < 25; ++i) passed += budget.take(t + 1h);  // refilled to the burst, not beyond
  CHECK(passed == 10);
}
