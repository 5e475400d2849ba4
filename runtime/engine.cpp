#include "runtime/engine.h"

#include <atomic>
#include <stdexcept>

#include <libplatform/libplatform.h>
#include <v8.h>

namespace ps::runtime {

namespace {
std::atomic<bool> engine_created{false};
}

Engine::Engine() {
  if (engine_created.exchange(true)) {
    throw std::logic_error("V8 can be initialised once per process: create one Engine");
  }
  // Apps get no WebAssembly and no code generation from strings at run time
  // beyond what the context allows; harmony flags stay at V8's defaults.
  v8::V8::SetFlagsFromString("--no-expose-wasm");
  v8::V8::InitializeICU();
  platform_ = v8::platform::NewDefaultPlatform();
  v8::V8::InitializePlatform(platform_.get());
  v8::V8::Initialize();
}

Engine::~Engine() {
  v8::V8::Dispose();
  v8::V8::DisposePlatform();
}

}  // namespace ps::runtime
