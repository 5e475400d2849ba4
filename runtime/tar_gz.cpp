#include "runtime/tar_gz.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
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

// The whole gzip stream, checked to its end: every member's trailer (CRC
// and length) must be there and match, or the archive is refused.
std::string gunzip(const std::string& compressed, const std::string& name, std::size_t max_bytes) {
  if (compressed.size() < 2 || static_cast<unsigned char>(compressed[0]) != 0x1f ||
      static_cast<unsigned char>(compressed[1]) != 0x8b) {
    throw std::runtime_error(name + ": not a gzip file (a bundle is a folder or a .tar.gz)");
  }
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error(name + ": cannot start zlib");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char chunk[65536];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    int ret = inflate(&z, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - z.avail_out);
    if (out.size() > max_bytes) {
      throw std::runtime_error(name + ": expands to more than " + std::to_string(max_bytes) + " bytes");
    }
    if (ret == Z_STREAM_END) {
      if (z.avail_in == 0) return out;
      // Another gzip member follows (concatenated archives are valid gzip).
      if (inflateReset(&z) != Z_OK) throw std::runtime_error(name + ": cannot restart zlib");
      continue;
    }
    if (ret == Z_BUF_ERROR || (ret == Z_OK && z.avail_in == 0 && z.avail_out != 0)) {
      throw std::runtime_error(name + ": truncated archive (the gzip stream ends early)");
    }
    if (ret != Z_OK) {
      throw std::runtime_error(name + ": not a valid .tar.gz: " + (z.msg ? z.msg : "corrupt data"));
    }
  }
}

std::string read_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) throw std::runtime_error(path.string() + ": cannot open: " + std::strerror(errno));
  std::string data;
  char chunk[65536];
  while (std::size_t n = std::fread(chunk, 1, sizeof chunk, file.get())) {
    data.append(chunk, n);
    if (data.size() > max_bytes) throw std::runtime_error(path.string() + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  if (std::ferror(file.get())) throw std::runtime_error(path.string() + ": cannot read: " + std::strerror(errno));
  return data;
}

// One tar header block for an entry of `type` and `size`.
std::string header_block(const std::string& path, std::size_t size, char type) {
  std::string block(kBlock, '\0');
  std::memcpy(block.data(), path.data(), std::min<std::size_t>(path.size(), 99));
  std::snprintf(block.data() + 100, 8, "%07o", 0644);
  std::snprintf(block.data() + 108, 8, "%07o", 0);
  std::snprintf(block.data() + 116, 8, "%07o", 0);
  std::snprintf(block.data() + 124, 12, "%011llo", static_cast<unsigned long long>(size));
  std::snprintf(block.data() + 136, 12, "%011o", 0);
  block[156] = type;
  std::memcpy(block.data() + 257, "ustar  ", 8);  // the GNU magic, which long names need
  // The checksum is taken with its own field as spaces.
  std::memset(block.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : block) sum += c;
  std::snprintf(block.data() + 148, 8, "%06o", sum);
  return block;
}

void append_entry(std::string& tar, const std::string& path, const std::string& body, char type) {
  tar += header_block(path, body.size(), type);
  tar += body;
  tar.append((kBlock - body.size() % kBlock) % kBlock, '\0');
}

std::string gzip(const std::string& data) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("cannot start zlib");
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, deflateEnd);
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("cannot compress the archive");
  out.resize(out.size() - z.avail_out);
  return out;
}

}  // namespace

std::string pack_tar_gz(const std::map<std::string, std::string>& files) {
  std::string tar;
  for (const auto& [path, body] : files) {
    if (path.size() > 99) append_entry(tar, "././@LongLink", path + '\0', 'L');
    append_entry(tar, path, body, '0');
  }
  tar.append(2 * kBlock, '\0');
  return gzip(tar);
}

std::map<std::string, std::string> read_tar_gz(const std::filesystem::path& archive, std::size_t max_bytes) {
  return unpack_tar_gz(read_file(archive, max_bytes), archive.string(), max_bytes);
}

std::map<std::string, std::string> unpack_tar_gz(const std::string& compressed, const std::string& name,
                                                 std::size_t max_bytes) {
  std::string data = gunzip(compressed, name, max_bytes);

  std::map<std::string, std::string> files;
  std::string long_name;  // from a GNU 'L' entry, for the entry that follows
  std::size_t pos = 0;
  bool ended = false;
  while (pos + kBlock <= data.size()) {
    const char* header = data.data() + pos;
    if (header[0] == '\0') {
      ended = true;  // the end-of-archive blocks
      break;
    }
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
  if (!ended) throw std::runtime_error(name + ": truncated archive (no end-of-archive block)");
  if (files.empty()) throw std::runtime_error(name + ": the archive holds no files");
  return files;
}

}  // namespace ps::runtime
