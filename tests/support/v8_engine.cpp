#include "tests/support/v8_engine.h"

namespace ps::test {
runtime::Engine& v8_engine() {
  static runtime::Engine engine;
  return engine;
}
}  // namespace ps::test
