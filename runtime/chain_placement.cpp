#include "runtime/chain_placement.h"

namespace ps::runtime {

std::vector<int> ChainPlacement::place(std::size_t length) {
  auto threads = static_cast<std::size_t>(threads_);
  std::size_t block = (length + threads - 1) / threads;  // instances per thread
  std::vector<int> placed;
  for (std::size_t i = 0; i < length; ++i) {
    placed.push_back(static_cast<int>((static_cast<std::size_t>(next_) + i / block) % threads));
  }
  if (length > 0) next_ = static_cast<int>((static_cast<std::size_t>(next_) + (length - 1) / block + 1) % threads);
  return placed;
}

}  // namespace ps::runtime
