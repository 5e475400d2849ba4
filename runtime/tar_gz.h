#pragma once
// Reads the regular files of a .tar.gz archive into memory, and packs
// files into one.

#include <filesystem>
#include <map>
#include <string>

namespace ps::runtime {

// path inside the archive -> contents. Throws std::runtime_error naming the
// archive when it is not a readable gzip'd tar, is cut short (a gzip trailer
// or the tar end is missing), holds a path that escapes the archive, or
// expands past `max_bytes`.
std::map<std::string, std::string> read_tar_gz(const std::filesystem::path& archive, std::size_t max_bytes);
// The same for an archive already in memory; `name` names it in errors.
std::map<std::string, std::string> unpack_tar_gz(const std::string& compressed, const std::string& name,
                                                 std::size_t max_bytes);

// A .tar.gz holding `files` (path inside the archive -> contents) as
// regular files, paths longer than a tar header holds as GNU long names.
std::string pack_tar_gz(const std::map<std::string, std::string>& files);

}  // namespace ps::runtime
