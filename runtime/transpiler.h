#pragma once
// Turns an app's files into the JavaScript the sandbox runs: TypeScript
// loses its types and ES module syntax becomes require/exports, with every
// line where it was (sucrase, built into the binary). It runs in an isolate
// of its own that never runs app code, only parses it; each bundle version
// is transpiled once, whatever its number of instances. Thread-safe. V8
// stays out of this header.

#include <chrono>
#include <memory>
#include <string>

namespace ps::runtime {

class Watchdog;

class Transpiler {
 public:
  // `limit` bounds the time one file may take (a hostile file cannot stall
  // start-up); needs the process's Engine.
  Transpiler(Watchdog& watchdog, std::chrono::milliseconds limit);
  ~Transpiler();
  Transpiler(const Transpiler&) = delete;
  Transpiler& operator=(const Transpiler&) = delete;

  // `source` of bundle file `path` (".ts" files are TypeScript), ready to
  // run. Throws BundleError "<where>/<path>:line:column: SyntaxError: ...".
  std::string transpile(const std::string& where, const std::string& path, const std::string& source);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ps::runtime
