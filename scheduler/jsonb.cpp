#include "scheduler/jsonb.h"

namespace ps::scheduler {

namespace {

int hex4(std::string_view text, std::size_t at) {
  if (at + 4 > text.size()) return -1;
  int value = 0;
  for (std::size_t i = at; i < at + 4; ++i) {
    char c = text[i];
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// Length of the well-formed UTF-8 sequence at `at`, or 0.
std::size_t utf8_length(std::string_view text, std::size_t at) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  std::size_t n = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
  if (n == 0 || at + n > text.size()) return 0;
  unsigned char low = lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80;
  unsigned char high = lead == 0xED ? 0x9F : lead == 0xF4 ? 0x8F : 0xBF;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::optional<std::string> jsonb_refuses(std::string_view json) {
  // Backslashes appear only inside strings, each starting an escape.
  for (std::size_t i = 0; i + 1 < json.size(); ++i) {
    if (json[i] != '\\') continue;
    if (json[i + 1] != 'u') {
      ++i;
      continue;
    }
    int unit = hex4(json, i + 2);
    if (unit == 0) return "it holds \\u0000, which Postgres cannot store";
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      int low = json.substr(i + 6, 2) == "\\u" ? hex4(json, i + 8) : -1;
      if (low < 0xDC00 || low > 0xDFFF) return "it holds an unpaired surrogate (\\ud800-\\udbff), which Postgres cannot store";
      i += 11;
      continue;
    }
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
      return "it holds an unpaired surrogate (\\udc00-\\udfff), which Postgres cannot store";
    }
    i += 5;
  }
  return std::nullopt;
}

std::string storable_text(std::string_view text, std::size_t max_bytes) {
  static const std::string kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = text[i] == '\0' ? 0 : utf8_length(text, i);
    std::string_view piece = n ? text.substr(i, n) : std::string_view(kReplacement);
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece);
    i += n ? n : 1;
  }
  return out;
}

}  // namespace ps::scheduler
