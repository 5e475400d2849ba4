#pragma once
// An app bundle: a folder or a .tar.gz holding plugin.json and the main ES
// module (plus any files it imports), read fully into memory at load time.

#include <filesystem>
#include <map>
#include <string>

#include "runtime/manifest.h"

namespace ps::runtime {

struct Bundle {
  std::string source;  // the folder or archive it came from, for messages
  Manifest manifest;
  std::map<std::string, std::string> files;  // bundle-relative path -> contents
};

// Reads and validates a bundle: plugin.json must parse and the main file must
// exist. Throws BundleError naming the bundle and the file.
Bundle load_bundle(const std::filesystem::path& path);

}  // namespace ps::runtime
