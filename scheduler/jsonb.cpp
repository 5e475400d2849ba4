#include "scheduler/jsonb.h"

#include "json/utf8.h"

namespace ps::scheduler {

using json::hex4;
using json::utf8_length;

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
