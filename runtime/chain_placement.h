#pragma once
// Which JS thread each app instance lives on. An event walks its team's
// chain in order, and every step to an instance on another thread is a
// hand-off between cores; so a chain is cut into as few contiguous blocks as
// there are threads to share it (five apps on two threads: 3 + 2, one
// crossing per event instead of four), and successive chains start on the
// next thread, so many teams spread evenly. Measured with bench-ingestion,
// five apps on two threads: 10-15% less time and CPU than round-robin.

#include <cstddef>
#include <vector>

namespace ps::runtime {

class ChainPlacement {
 public:
  explicit ChainPlacement(int threads) : threads_(threads < 1 ? 1 : threads) {}

  // The threads for a chain of `length` instances, in chain order.
  std::vector<int> place(std::size_t length);

 private:
  int threads_;
  int next_ = 0;  // where the next chain starts
};

}  // namespace ps::runtime
