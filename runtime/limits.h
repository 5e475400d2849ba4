#pragma once
// The limits every app call runs under.

#include <chrono>
#include <cstddef>

namespace ps::runtime {

struct Limits {
  // Longest a single synchronous run of JS may take (a loop that never
  // yields): it holds a JS thread that other apps share.
  std::chrono::milliseconds cpu{1000};
  // Longest an async call may take from start to settling.
  std::chrono::milliseconds wall{30000};
  // V8 heap per isolate; ArrayBuffer memory is capped at the same size.
  std::size_t heap_bytes = 128u << 20;
};

}  // namespace ps::runtime
