#pragma once
// Bytes as lower-case hexadecimal text (digests, bytea parameters).

#include <string>
#include <string_view>

namespace ps::base {

inline std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

}  // namespace ps::base
