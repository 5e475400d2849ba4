#pragma once
// V8 may be initialised once per process: every test shares this Engine, and
// one Transpiler for the bundles tests build in memory.

#include "runtime/engine.h"
#include "runtime/transpiler.h"

namespace ps::test {
runtime::Engine& v8_engine();
runtime::Transpiler& transpiler();
}  // namespace ps::test
