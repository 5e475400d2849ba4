#include "runtime/bundle.h"

#include <fstream>
#include <memory>
#include <sstream>

#include <openssl/evp.h>

#include "base/hex.h"
#include "runtime/tar_gz.h"

namespace ps::runtime {

namespace {

// Bundles are small; anything larger than this is a mistake, not an app.
constexpr std::size_t kMaxBundleBytes = 64 * 1024 * 1024;

// The folder's regular files. A symbolic link is refused: it could pull in
// a file from outside the bundle (a cloned repository's data.csv -> /etc/...).
std::map<std::string, std::string> read_folder(const std::filesystem::path& root) {
  std::map<std::string, std::string> files;
  std::size_t total = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(root); it != std::filesystem::recursive_directory_iterator();
       ++it) {
    const auto& entry = *it;
    auto relative = entry.path().lexically_relative(root).generic_string();
    if (relative == "node_modules" || relative == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    if (entry.is_symlink()) {
      throw BundleError(root.string() + ": " + relative + " is a symbolic link; a bundle holds only its own regular files");
    }
    if (!entry.is_regular_file()) continue;
    total += entry.file_size();
    if (total > kMaxBundleBytes) {
      throw BundleError(root.string() + ": bundle is larger than " + std::to_string(kMaxBundleBytes) + " bytes");
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) throw BundleError(root.string() + ": cannot read " + relative);
    files[relative] = text.str();
  }
  return files;
}

// Archives often wrap everything in one top folder (app/plugin.json): drop it.
void strip_single_top_folder(std::map<std::string, std::string>& files) {
  if (files.count("plugin.json")) return;
  std::string top;
  for (const auto& [path, _] : files) {
    auto slash = path.find('/');
    if (slash == std::string::npos) return;
    auto first = path.substr(0, slash + 1);
    if (top.empty()) top = first;
    if (first != top) return;
  }
  std::map<std::string, std::string> stripped;
  for (auto& [path, contents] : files) stripped[path.substr(top.size())] = std::move(contents);
  files = std::move(stripped);
}

}  // namespace

Bundle load_bundle(const std::filesystem::path& path) {
  Bundle bundle;
  bundle.source = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    bundle.files = read_folder(path);
  } else if (std::filesystem::is_regular_file(path, ec)) {
    try {
      bundle.files = read_tar_gz(path, kMaxBundleBytes);
    } catch (const std::runtime_error& e) {
      throw BundleError(e.what());
    }
    strip_single_top_folder(bundle.files);
  } else {
    throw BundleError(bundle.source + ": no such folder or .tar.gz file");
  }
  return bundle_from_files(std::move(bundle.source), std::move(bundle.files));
}

Bundle bundle_from_archive(const std::string& compressed, std::string source) {
  std::map<std::string, std::string> files;
  try {
    files = unpack_tar_gz(compressed, source, kMaxBundleBytes);
  } catch (const std::runtime_error& e) {
    throw BundleError(e.what());
  }
  strip_single_top_folder(files);
  return bundle_from_files(std::move(source), std::move(files));
}

std::string content_hash(const Bundle& bundle) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw std::runtime_error("sha256: OpenSSL failed");
  // Each path and its contents, length first, in path order: no two
  // different sets of files give the same input.
  for (const auto& [path, contents] : bundle.files) {
    for (const std::string* part : {&path, &contents}) {
      auto length = std::to_string(part->size()) + ":";
      EVP_DigestUpdate(ctx.get(), length.data(), length.size());
      EVP_DigestUpdate(ctx.get(), part->data(), part->size());
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &size) != 1) throw std::runtime_error("sha256: OpenSSL failed");
  return base::to_hex(std::string_view(reinterpret_cast<const char*>(digest), size));
}

Bundle bundle_from_files(std::string source, std::map<std::string, std::string> files) {
  Bundle bundle;
  bundle.source = std::move(source);
  bundle.files = std::move(files);
  auto manifest = bundle.files.find("plugin.json");
  if (manifest == bundle.files.end()) throw BundleError(bundle.source + ": plugin.json is missing");
  bundle.manifest = parse_manifest(manifest->second, bundle.source + "/plugin.json");
  if (bundle.manifest.main.empty()) {
    bundle.manifest.main = !bundle.files.count("index.js") && bundle.files.count("index.ts") ? "index.ts" : "index.js";
  }
  auto main = std::filesystem::path(bundle.manifest.main).lexically_normal().generic_string();
  if (!bundle.files.count(main)) {
    throw BundleError(bundle.source + ": the main file \"" + bundle.manifest.main + "\" is missing");
  }
  bundle.manifest.main = main;
  return bundle;
}

}  // namespace ps::runtime
