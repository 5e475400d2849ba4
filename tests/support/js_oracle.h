#pragma once
// Node.js as the oracle for the Node APIs the daemon gives apps: a snippet
// runs as an app's processEvent and in Node 20, and the test compares the
// two answers. A snippet is the body of an async function that returns a
// JSON-serialisable value; a throw answers {"threw": name, "message": ...}.

#include <string>

#include "runtime/limits.h"

namespace ps::test {

// The snippet's answer as JSON text, run in an app sandbox.
std::string in_sandbox(const std::string& body, runtime::Limits limits = {});
// The same snippet's answer in Node.js (require() of crypto, zlib, buffer...).
std::string in_node(const std::string& body);

}  // namespace ps::test
