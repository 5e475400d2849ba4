#include "runtime/module_graph.h"

#include <filesystem>
#include <regex>
#include <vector>

#include "runtime/transpiler.h"

namespace ps::runtime {

namespace {

bool is_relative(const std::string& specifier) {
  return specifier.rfind("./", 0) == 0 || specifier.rfind("../", 0) == 0;
}

bool ends_with(const std::string& text, const std::string& end) {
  return text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0;
}

// The literal specifiers of require('...') calls in transpiled code. A
// match inside a comment or string only costs a look-up.
std::vector<std::string> required_paths(const std::string& code) {
  static const std::regex call(R"(\brequire\(\s*(['"])([^'"\n]+)\1\s*\))");
  std::vector<std::string> found;
  for (auto it = std::sregex_iterator(code.begin(), code.end(), call); it != std::sregex_iterator(); ++it) {
    found.push_back((*it)[2].str());
  }
  return found;
}

}  // namespace

std::optional<std::string> resolve_module(const std::string& referrer, const std::string& specifier,
                                          const std::map<std::string, std::string>& files) {
  if (!is_relative(specifier)) return std::nullopt;
  auto base = std::filesystem::path(referrer).parent_path();
  auto joined = (base / specifier).lexically_normal().generic_string();
  if (joined.rfind("../", 0) == 0 || joined == "..") return std::nullopt;
  if (!joined.empty() && joined.back() == '/') joined.pop_back();
  for (const char* suffix : {"", ".js", ".ts", ".json", ".mjs", ".cjs", "/index.js", "/index.ts"}) {
    auto candidate = joined + suffix;
    if (files.count(candidate)) return candidate;
  }
  return std::nullopt;
}

void prepare_modules(Bundle& bundle, Transpiler& transpiler) {
  std::vector<std::string> todo = {bundle.manifest.main};
  while (!todo.empty()) {
    auto path = std::move(todo.back());
    todo.pop_back();
    if (bundle.code.count(path)) continue;
    const auto& source = bundle.files.at(path);
    if (ends_with(path, ".json")) {
      bundle.code[path] = source;
      continue;
    }
    auto& code = bundle.code[path] = transpiler.transpile(bundle.source, path, source);
    for (const auto& specifier : required_paths(code)) {
      // A missing file fails when it is required, with its name.
      if (auto found = resolve_module(path, specifier, bundle.files)) todo.push_back(*found);
    }
  }
}

}  // namespace ps::runtime
