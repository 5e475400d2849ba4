#include "tests/support/v8_engine.h"

#include "runtime/watchdog.h"

namespace ps::test {

runtime::Engine& v8_engine() {
  static runtime::Engine engine;
  return engine;
}

runtime::Transpiler& transpiler() {
  v8_engine();  // first made, last gone
  static runtime::Watchdog watchdog;
  static runtime::Transpiler transpiler(watchdog, std::chrono::seconds(30));
  return transpiler;
}

}  // namespace ps::test
