#include "runtime/tar_gz.h"

#include <zlib.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace ps::runtime {

namespace {

constexpr std::size_t kBlock = 512;

std::size_t parse_octal(const char* field, std::size_t width) {
  std::size_t value = 0;
  for (std::size_t i = 0; i < width && field[i]; ++i) {
    if (field[i] == ' ') continue;
    if (field[i] < '0' || field[i] > '7') break;
    value = value * 8 + static_cast<std::size_t>(field[i] - '0');
  }
  return value;
}

std::string field_string(const char* field, std::size_t width) { return std::string(field, strnlen(field, width)); }

// Normalises an archive path and refuses ones that leave the archive.
std::string safe_path(const std::string& raw, const std::string& archive) {
  auto normal = std::filesystem::path(raw).lexically_normal();
  std::string text = normal.string();
  if (text.rfind("./", 0) == 0) text = text.substr(2);
  if (normal.is_absolute() || text == ".." || text.rfind("../", 0) == 0) {
    throw std::runtime_error(archive + ": archive entry \"" + raw + "\" points outside the archive");
  }
  return text;
}

}  // namespace

std::map<std::string, std::string> read_tar_gz(const std::filesystem::path& archive, std::size_t max_bytes) {
  const std::string name = archive.string();
  std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(name.c_str(), "rb"), gzclose);
  if (!gz) throw std::runtime_error(name + ": cannot open: " + std::strerror(errno));

  std::string data;
  char chunk[65536];
  for (;;) {
    int n = gzread(gz.get(), chunk, sizeof chunk);
    if (n < 0) {
      int code = 0;
      throw std::runtime_error(name + ": not a valid .tar.gz: " + gzerror(gz.get(), &code));
    }
    if (n == 0) break;
    data.append(chunk, static_cast<std::size_t>(n));
    if (data.size() > max_bytes) {
      throw std::runtime_error(name + ": expands to more than " + std::to_string(max_bytes) + " bytes");
    }
  }

  std::map<std::string, std::string> files;
  std::string long_name;  // from a GNU 'L' entry, for the entry that follows
  std::size_t pos = 0;
  while (pos + kBlock <= data.size()) {
    const char* header = data.data() + pos;
    if (header[0] == '\0') break;  // end-of-archive blocks
    if (std::memcmp(header + 257, "ustar", 5) != 0 && std::memcmp(header + 257, "\0\0\0\0\0", 5) != 0) {
      throw std::runtime_error(name + ": not a tar archive (bad header at byte " + std::to_string(pos) + ")");
    }
    std::size_t size = parse_octal(header + 124, 12);
    char type = header[156];
    std::string path = field_string(header, 100);
    std::string prefix = field_string(header + 345, 155);
    if (!prefix.empty()) path = prefix + "/" + path;
    pos += kBlock;
    if (pos + size > data.size()) throw std::runtime_error(name + ": truncated archive");
    std::string body = data.substr(pos, size);
    pos += (size + kBlock - 1) / kBlock * kBlock;

    if (type == 'L') {
      long_name = field_string(body.data(), body.size());
      continue;
    }
    if (!long_name.empty()) {
      path = long_name;
      long_name.clear();
    }
    if (type == '0' || type == '\0') files[safe_path(path, name)] = std::move(body);
    // Folders, links, and pax/GNU metadata carry no file contents for a bundle.
  }
  if (files.empty()) throw std::runtime_error(name + ": the archive holds no files");
  return files;
}

}  // namespace ps::runtime
