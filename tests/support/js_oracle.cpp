#include "tests/support/js_oracle.h"

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "tests/support/process.h"
#include "tests/support/sandbox_harness.h"

namespace ps::test {

namespace {

// Both sides run the same text: the snippet in an async function, its
// result or its error as JSON.
std::string wrapped(const std::string& body) {
  return "(async () => {\n" + body +
         "\n})().then((value) => JSON.stringify(value), (err) => JSON.stringify({ threw: err && err.name, message: err && err.message }))";
}

}  // namespace

std::string in_sandbox(const std::string& body, runtime::Limits limits) {
  SandboxHarness h({{"index.js", "exports.processEvent = async (e) => { e.properties.out = await " + wrapped(body) +
                                     "; return e }"}},
                   limits);
  auto outcome = h.process_event(R"({"event":"e","team_id":1,"properties":{}})");
  if (!outcome.ok()) throw std::runtime_error("the snippet's call failed: " + outcome.error);
  return nlohmann::json::parse(*outcome.value)["properties"]["out"].get<std::string>();
}

std::string in_node(const std::string& body) {
  auto run = run_to_end({PS_NODE_BINARY, "-e", wrapped(body) + ".then((text) => process.stdout.write(text))"});
  if (run.code != 0) throw std::runtime_error("node failed: " + run.output);
  return run.output;
}

}  // namespace ps::test
