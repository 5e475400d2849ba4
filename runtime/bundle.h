#pragma once
// An app bundle: a folder or a .tar.gz holding plugin.json and the main file
// (plus any files it imports), read fully into memory at load time.

#include <filesystem>
#include <map>
#include <string>

#include "runtime/manifest.h"

namespace ps::runtime {

struct Bundle {
  std::string source;  // the folder or archive it came from, for messages
  Manifest manifest;
  std::map<std::string, std::string> files;  // bundle-relative path -> contents
  // What the sandbox runs, by path: the main file and the bundle files it
  // requires, transpiled (prepare_modules, in module_graph.h).
  std::map<std::string, std::string> code;
};

// Reads and validates a bundle: plugin.json must parse and the main file must
// exist. Throws BundleError naming the bundle and the file.
Bundle load_bundle(const std::filesystem::path& path);

// The same checks on files already in memory; `source` names them in errors.
Bundle bundle_from_files(std::string source, std::map<std::string, std::string> files);
// The same for a .tar.gz already in memory (an upload).
Bundle bundle_from_archive(const std::string& compressed, std::string source);

// SHA-256 (hex) of the bundle's files, paths and contents: the same for the
// same files however they were packed.
std::string content_hash(const Bundle& bundle);

}  // namespace ps::runtime
