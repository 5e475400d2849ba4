#pragma once
// check-app: loads a bundle in a throwaway isolate and reports what it offers.

#include <filesystem>
#include <string>

#include "runtime/sandbox.h"

namespace ps::runtime {

struct AppReport {
  std::string name;
  std::string description;
  Exports exports;
};

// Throws BundleError or AppError with the reason the app cannot run.
AppReport inspect_app(const std::filesystem::path& path, const Limits& limits);

}  // namespace ps::runtime
