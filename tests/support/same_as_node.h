#pragma once
// The check most API tests make: a snippet answers in an app's sandbox what
// it answers in Node.js (see js_oracle.h). For test files (uses Catch).

#include <catch2/catch.hpp>

#include <string>

#include "tests/support/js_oracle.h"

namespace ps::test {

inline void same_as_node(const std::string& body) {
  INFO(body);
  CHECK(in_sandbox(body) == in_node(body));
}

}  // namespace ps::test
