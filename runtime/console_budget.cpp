#include "runtime/console_budget.h"

#include <algorithm>
#include <utility>

namespace ps::runtime {

bool ConsoleBudget::take(Clock::time_point now) {
  if (rate_.take(now)) return true;
  ++dropped_;
  return false;
}

std::size_t ConsoleBudget::take_dropped() { return std::exchange(dropped_, 0); }

std::string ConsoleBudget::line(const std::string& text) const {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), limits_.max_line_bytes) + 16);
  std::size_t i = 0;
  for (; i < text.size() && out.size() < limits_.max_line_bytes; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) out += std::string("\\x") + kHex[c >> 4] + kHex[c & 0xF];
    else out += static_cast<char>(c);
  }
  if (i < text.size()) {
    // Cut on a character boundary: drop a last UTF-8 sequence left short.
    std::size_t start = out.size();
    while (start > 0 && (static_cast<unsigned char>(out[start - 1]) & 0xC0) == 0x80) --start;
    if (start > 0) {
      auto lead = static_cast<unsigned char>(out[start - 1]);
      std::size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
      if (out.size() - (start - 1) < need) out.resize(start - 1);
    }
    out += " ... (truncated, " + std::to_string(text.size()) + " bytes)";
  }
  return out;
}

}  // namespace ps::runtime
