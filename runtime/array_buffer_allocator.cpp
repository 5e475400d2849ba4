#include "runtime/array_buffer_allocator.h"

#include <cstdlib>
#include <cstring>

#include <v8.h>

namespace ps::runtime {

namespace {

class Capped final : public v8::ArrayBuffer::Allocator {
 public:
  Capped(std::size_t cap, CappedAllocatorState& state) : cap_(cap), state_(state) {}

  void* Allocate(std::size_t length) override {
    if (!reserve(length)) return nullptr;
    void* p = std::calloc(1, length ? length : 1);
    if (!p) state_.used -= length;
    return p;
  }
  void* AllocateUninitialized(std::size_t length) override {
    if (!reserve(length)) return nullptr;
    void* p = std::malloc(length ? length : 1);
    if (!p) state_.used -= length;
    return p;
  }
  void Free(void* data, std::size_t length) override {
    std::free(data);
    state_.used -= length;
  }

 private:
  bool reserve(std::size_t length) {
    if (state_.used.fetch_add(length) + length > cap_) {
      state_.used -= length;
      state_.refused = true;
      return false;
    }
    return true;
  }
  std::size_t cap_;
  CappedAllocatorState& state_;
};

}  // namespace

std::unique_ptr<v8::ArrayBuffer::Allocator> make_capped_allocator(std::size_t cap, CappedAllocatorState& state) {
  return std::make_unique<Capped>(cap, state);
}

}  // namespace ps::runtime
