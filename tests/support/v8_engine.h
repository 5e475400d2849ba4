#pragma once
// V8 may be initialised once per process: every test shares this Engine.

#include "runtime/engine.h"

namespace ps::test {
runtime::Engine& v8_engine();
}
