#pragma once
// ArrayBuffer memory lives outside V8's heap limit: this allocator caps it
// per isolate. Its .cpp is built without RTTI, as libnode is. Internal to
// runtime/ (it pulls in V8's headers).

#include <atomic>
#include <cstddef>
#include <memory>

#include <v8.h>

namespace ps::runtime {

struct CappedAllocatorState {
  std::atomic<std::size_t> used{0};
  std::atomic<bool> refused{false};  // an allocation was refused for the cap
};

std::unique_ptr<v8::ArrayBuffer::Allocator> make_capped_allocator(std::size_t cap, CappedAllocatorState& state);

}  // namespace ps::runtime
