#pragma once
// The files an app runs: which bundle file a require names, and the set an
// app needs (its main file and every bundle file reached from it), each
// transpiled once per bundle version.

#include <map>
#include <optional>
#include <string>

#include "runtime/bundle.h"

namespace ps::runtime {

class Transpiler;

// The bundle file that `specifier` ("./x", "../x") names from the file
// `referrer`, trying what Node tries (the name, then .js, .ts, .json, then
// an index file in the folder); nullopt when there is none. Never a path
// outside the bundle; never a package name.
std::optional<std::string> resolve_module(const std::string& referrer, const std::string& specifier,
                                          const std::map<std::string, std::string>& files);

// Fills bundle.code with the main file and each bundle file reached from it
// through a require (or import) of a literal relative path, transpiled;
// JSON files as they are. Throws BundleError for a syntax error.
void prepare_modules(Bundle& bundle, Transpiler& transpiler);

}  // namespace ps::runtime
