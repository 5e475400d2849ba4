#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "runtime/bundle.h"
#include "runtime/tar_gz.h"
#include "tests/support/temp_dir.h"

using ps::runtime::BundleError;
using ps::runtime::load_bundle;
using ps::test::TempDir;

namespace {
// Packs `folder` (inside dir) into dir/name with the system's tar.
std::string pack(const TempDir& dir, const std::string& folder, const std::string& name) {
  auto archive = (dir.path() / name).string();
  auto cmd = "tar -czf '" + archive + "' -C '" + dir.path().string() + "' '" + folder + "'";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return archive;
}
}  // namespace

TEST_CASE("bundle: a folder with plugin.json, main and other files", "[runtime][bundle]") {
  TempDir dir;
  dir.write("app/plugin.json", R"({"name":"app","main":"src/main.js"})");
  dir.write("app/src/main.js", "export function processEvent(e) { return e }");
  dir.write("app/src/lib.js", "export const x = 1");
  dir.write("app/node_modules/dep/index.js", "ignored");
  auto b = load_bundle(dir.path() / "app");
  CHECK(b.manifest.name == "app");
  CHECK(b.manifest.main == "src/main.js");
  CHECK(b.files.count("src/lib.js") == 1);
  CHECK(b.files.count("node_modules/dep/index.js") == 0);
}

TEST_CASE("bundle: a .tar.gz, with or without one top folder", "[runtime][bundle]") {
  TempDir dir;
  dir.write("app/plugin.json", R"({"name":"packed"})");
  dir.write("app/index.js", "export function processEvent(e) { return e }");
  auto wrapped = load_bundle(pack(dir, "app", "wrapped.tar.gz"));
  CHECK(wrapped.manifest.name == "packed");
  CHECK(wrapped.files.count("index.js") == 1);

  auto flat_archive = (dir.path() / "flat.tar.gz").string();
  REQUIRE(std::system(("tar -czf '" + flat_archive + "' -C '" + (dir.path() / "app").string() + "' plugin.json index.js").c_str()) == 0);
  CHECK(load_bundle(flat_archive).files.count("plugin.json") == 1);
}

TEST_CASE("bundle: each broken bundle is a clear error naming it", "[runtime][bundle]") {
  TempDir dir;
  dir.write("nomanifest/index.js", "");
  CHECK_THROWS_WITH(load_bundle(dir.path() / "nomanifest"), Catch::EndsWith("nomanifest: plugin.json is missing"));
  dir.write("nomain/plugin.json", R"({"name":"x","main":"app.js"})");
  CHECK_THROWS_WITH(load_bundle(dir.path() / "nomain"), Catch::Contains("the main file \"app.js\" is missing"));
  dir.write("badjson/plugin.json", R"({"name":)");
  CHECK_THROWS_WITH(load_bundle(dir.path() / "badjson"), Catch::Contains("badjson/plugin.json: not valid JSON"));
  auto junk = dir.write("junk.tar.gz", "this is not gzip");
  CHECK_THROWS_AS(load_bundle(junk), BundleError);
  CHECK_THROWS_WITH(load_bundle(dir.path() / "nothing-here"), Catch::Contains("no such folder or .tar.gz file"));
}

TEST_CASE("bundle: a cut archive, a plain file and a symbolic link are refused clearly", "[runtime][bundle]") {
  TempDir dir;
  dir.write("app/plugin.json", R"({"name":"a"})");
  dir.write("app/index.js", "export function processEvent(e) { return e }\n" + std::string(20000, '/') + "\n");
  auto archive = pack(dir, "app", "app.tar.gz");
  std::ifstream in(archive, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Cut inside the gzip stream, and only the 8-byte trailer off.
  auto cut = dir.write("cut.tar.gz", bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_WITH(load_bundle(cut), Catch::Contains("truncated archive (the gzip stream ends early)"));
  auto no_trailer = dir.write("no-trailer.tar.gz", bytes.substr(0, bytes.size() - 8));
  CHECK_THROWS_WITH(load_bundle(no_trailer), Catch::Contains("truncated archive"));
  // A whole gzip stream of a tar cut before its end blocks.
  auto tar = (dir.path() / "app.tar").string();
  REQUIRE(std::system(("tar -b 1 -cf '" + tar + "' -C '" + dir.path().string() + "' app").c_str()) == 0);
  REQUIRE(std::system(("truncate -s -1024 '" + tar + "' && gzip -kf '" + tar + "'").c_str()) == 0);
  CHECK_THROWS_WITH(load_bundle(tar + ".gz"), Catch::Contains("truncated archive (no end-of-archive block)"));
  CHECK_THROWS_WITH(load_bundle(dir.write("plain.tar.gz", "just text")), Catch::Contains("not a gzip file"));
  // A link out of the bundle.
  dir.write("linked/plugin.json", R"({"name":"l"})");
  dir.write("linked/index.js", "export function processEvent(e) { return e }");
  std::filesystem::create_symlink("/etc/hostname", dir.path() / "linked" / "data.csv");
  CHECK_THROWS_WITH(load_bundle(dir.path() / "linked"),
                    Catch::Contains("data.csv is a symbolic link; a bundle holds only its own regular files"));
}

TEST_CASE("bundle: a manifest with very many config fields loads in linear time", "[runtime][bundle]") {
  TempDir dir;
  std::string fields;
  for (int i = 0; i < 200000; ++i) fields += (i ? "," : "") + std::string(R"({"key":"k)") + std::to_string(i) + "\"}";
  dir.write("big/plugin.json", R"({"name":"big","config":[)" + fields + "]}");
  dir.write("big/index.js", "export function processEvent(e) { return e }");
  CHECK(load_bundle(dir.path() / "big").manifest.config.size() == 200000);
  dir.write("twice/plugin.json", R"({"name":"t","config":[{"key":"a"},{"key":"b"},{"key":"a"}]})");
  dir.write("twice/index.js", "");
  CHECK_THROWS_WITH(load_bundle(dir.path() / "twice"), Catch::Contains("config key \"a\" is declared twice"));
}

TEST_CASE("bundle: a packed .tar.gz reads back the same, with the system's tar and with ours", "[runtime][bundle]") {
  TempDir dir;
  std::string long_path = "src/" + std::string(120, 'd') + "/module.js";
  std::map<std::string, std::string> files = {{"plugin.json", R"({"name":"packed"})"},
                                              {"index.js", "export function processEvent(e) { return e }"},
                                              {long_path, std::string(70000, 'x')},
                                              {"empty.txt", ""}};
  auto archive = ps::runtime::pack_tar_gz(files);
  CHECK(ps::runtime::unpack_tar_gz(archive, "packed", 1u << 20) == files);
  dir.write("packed.tar.gz", archive);
  auto out = dir.path() / "out";
  std::filesystem::create_directories(out);
  REQUIRE(std::system(("tar -xzf '" + (dir.path() / "packed.tar.gz").string() + "' -C '" + out.string() + "'").c_str()) == 0);
  for (const auto& [path, body] : files) {
    std::ifstream in(out / path, std::ios::binary);
    CHECK(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()) == body);
  }
  CHECK(load_bundle((dir.path() / "packed.tar.gz").string()).manifest.name == "packed");
}
