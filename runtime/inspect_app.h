#pragma once
// check-app: loads a bundle in a throwaway isolate and reports what it offers.

#include <filesystem>
#include <memory>
#include <string>

#include "runtime/sandbox.h"

namespace ps::runtime {

struct AppReport {
  std::string name;
  std::string description;
  Exports exports;
  std::shared_ptr<const Bundle> bundle;  // with its transpiled code
};

// Throws BundleError or AppError with the reason the app cannot run.
AppReport inspect_app(const std::filesystem::path& path, const Limits& limits);
// The same for a bundle already read (an upload).
AppReport inspect_bundle(Bundle bundle, const Limits& limits);

}  // namespace ps::runtime
