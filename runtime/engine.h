#pragma once
// The V8 engine: one platform per process, set up before the first isolate
// and torn down after the last. V8 cannot be initialised twice in a process,
// so exactly one Engine may ever exist; the daemon's wiring owns it.

#include <memory>

namespace v8 {
class Platform;
}

namespace ps::runtime {

class Engine {
 public:
  Engine();
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  v8::Platform& platform() const { return *platform_; }

 private:
  std::unique_ptr<v8::Platform> platform_;
};

}  // namespace ps::runtime
