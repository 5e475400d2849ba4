// libFuzzer target: the bundle loader's parsers. The first byte picks one:
// even, the rest is a plugin.json; odd, the rest is a .tar.gz. Either may
// refuse its input with a BundleError or std::runtime_error, never crash.

#include <cstdint>
#include <stdexcept>
#include <string>

#include "runtime/bundle.h"
#include "runtime/manifest.h"
#include "runtime/tar_gz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] % 2 == 0) {
      ps::runtime::parse_manifest(rest, "fuzz/plugin.json");
    } else {
      ps::runtime::unpack_tar_gz(rest, "fuzz.tar.gz", 8u << 20);
    }
  } catch (const std::runtime_error&) {
    // A clear refusal is the right answer to a bad input.
  }
  return 0;
}
