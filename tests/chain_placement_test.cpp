#include <catch2/catch.hpp>

#include "runtime/chain_placement.h"

using ps::runtime::ChainPlacement;
using Threads = std::vector<int>;

TEST_CASE("chain placement: a chain is cut into one contiguous block per thread", "[runtime][placement]") {
  ChainPlacement two(2);
  CHECK(two.place(5) == Threads{0, 0, 0, 1, 1});
  ChainPlacement four(4);
  CHECK(four.place(6) == Threads{0, 0, 1, 1, 2, 2});
  CHECK(four.place(2) == Threads{3, 0});
  ChainPlacement one(1);
  CHECK(one.place(3) == Threads{0, 0, 0});
}

TEST_CASE("chain placement: successive chains start on the next free thread", "[runtime][placement]") {
  ChainPlacement three(3);
  CHECK(three.place(1) == Threads{0});
  CHECK(three.place(1) == Threads{1});
  CHECK(three.place(2) == Threads{2, 0});
  CHECK(three.place(0).empty());
  CHECK(three.place(1) == Threads{1});
  // No threads is taken as one.
  CHECK(ChainPlacement(0).place(2) == Threads{0, 0});
}
