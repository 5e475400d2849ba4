#include "json/scan.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <nlohmann/json.hpp>

#include "json/utf8.h"

namespace ps::json {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

void append_utf8(std::string& out, unsigned code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

class Scanner {
 public:
  Scanner(std::string_view text, const ScanOptions& options)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()), options_(options) {}

  // Iterative, so nesting depth costs heap, not stack.
  bool run(TopLevelFields& fields) {
    std::vector<char> open;  // '{' or '[' for each container we are in
    ScannedField* target = nullptr;  // the wanted top-level field whose value comes next
    std::string key;
    const char* member_start = nullptr;  // where the current top-level member's value began
    skip_space();
    if (p_ == end_) return fail("not valid JSON (empty)");
    fields.is_object = *p_ == '{';
    // A top-level member's value ends here, when `open` is back to the top object.
    auto end_member = [&] {
      if (options_.members && open.size() == 1 && open[0] == '{') {
        fields.members.back().value = std::string_view(member_start, static_cast<std::size_t>(p_ - member_start));
      }
    };
    for (;;) {
      // A value.
      skip_space();
      if (p_ == end_) return invalid();
      ScannedField* capture = open.size() == 1 ? target : nullptr;
      if (capture) *capture = ScannedField{ScannedField::other, {}, 0};
      member_start = open.size() == 1 ? p_ : member_start;
      char c = *p_;
      bool entered = false;
      if (c == '{' || c == '[') {
        ++p_;
        open.push_back(c);
        if (open.size() > options_.max_depth) {
          return fail("nested deeper than " + std::to_string(options_.max_depth) + " levels");
        }
        skip_space();
        if (p_ < end_ && *p_ == (c == '{' ? '}' : ']')) {
          ++p_;
          open.pop_back();
        } else {
          entered = true;
        }
      } else if (c == '"') {
        if (capture) capture->kind = ScannedField::string;
        if (!string(capture ? &capture->text : nullptr)) return invalid();
      } else if (c == '-' || is_digit(c)) {
        if (!number(capture)) return invalid();
      } else if (!literal("true") && !literal("false") && !literal("null")) {
        return invalid();
      }
      // A key, when the value opened an object; else what follows a value.
      if (entered && open.back() == '{') {
        if (!member_key(open.size() == 1, key, fields, target)) return invalid();
        continue;
      }
      if (entered) continue;  // an array's first value
      end_member();
      for (;;) {
        skip_space();
        if (open.empty()) return p_ == end_ || invalid();
        if (p_ == end_) return invalid();
        c = *p_++;
        if (c == ',') {
          if (open.back() == '{' && !member_key(open.size() == 1, key, fields, target)) return invalid();
          break;
        }
        if (c != (open.back() == '{' ? '}' : ']')) return invalid();
        open.pop_back();
        end_member();
      }
    }
  }

  const std::string& error() const { return error_; }

 private:
  std::string_view rest() const { return std::string_view(p_, static_cast<std::size_t>(end_ - p_)); }

  bool fail(std::string why) {
    error_ = std::move(why);
    return false;
  }

  bool invalid() { return fail("not valid JSON (at byte " + std::to_string(p_ - begin_) + ")"); }

  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  // `"key":` inside an object; at the top level it says which field the
  // value belongs to.
  bool member_key(bool top_level, std::string& key, TopLevelFields& fields, ScannedField*& target) {
    skip_space();
    if (p_ == end_ || *p_ != '"') return false;
    key.clear();
    const char* raw_start = p_;
    if (!string(top_level ? &key : nullptr)) return false;
    if (top_level && options_.members) {
      fields.members.push_back({std::string_view(raw_start, static_cast<std::size_t>(p_ - raw_start)), key, {}});
    }
    target = nullptr;
    if (top_level) {
      if (key == "team_id") target = &fields.team_id;
      else if (key == "event") target = &fields.event;
      else if (key == "distinct_id") target = &fields.distinct_id;
      else if (key == "data") target = &fields.data;
    }
    skip_space();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    return true;
  }

  // A string at p_ (the opening quote); its value appended to `out` if given.
  bool string(std::string* out) {
    ++p_;
    for (;;) {
      const char* run = p_;
      while (p_ < end_) {
        auto c = static_cast<unsigned char>(*p_);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++p_;
      }
      if (out) out->append(run, p_);
      if (p_ == end_) return false;
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (!escape(out)) return false;
      } else {
        const char* start = p_;
        auto length = utf8_length(rest(), 0);
        if (length == 0) return false;
        p_ += length;
        if (out) out->append(start, p_);
      }
    }
  }

  bool escape(std::string* out) {
    if (++p_ == end_) return false;
    char c = *p_++;
    char plain = 0;
    switch (c) {
      case '"': plain = '"'; break;
      case '\\': plain = '\\'; break;
      case '/': plain = '/'; break;
      case 'b': plain = '\b'; break;
      case 'f': plain = '\f'; break;
      case 'n': plain = '\n'; break;
      case 'r': plain = '\r'; break;
      case 't': plain = '\t'; break;
      case 'u': {
        int unit = hex4(rest(), 0);
        if (unit < 0) return false;
        p_ += 4;
        unsigned code_point = static_cast<unsigned>(unit);
        // A high surrogate followed by a low one is one character; any other
        // surrogate stands alone, as JavaScript strings allow.
        if (unit >= 0xD800 && unit <= 0xDBFF && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
          int low = hex4(rest(), 2);
          if (low >= 0xDC00 && low <= 0xDFFF) {
            p_ += 6;
            code_point = 0x10000 + ((code_point - 0xD800) << 10) + (static_cast<unsigned>(low) - 0xDC00);
          }
        }
        if (out) append_utf8(*out, code_point);
        return true;
      }
      default:
        return false;
    }
    if (out) *out += plain;
    return true;
  }

  bool number(ScannedField* out) {
    const char* start = p_;
    if (*p_ == '-') ++p_;
    if (p_ == end_ || !is_digit(*p_)) return false;
    if (*p_ == '0') ++p_;
    else while (p_ < end_ && is_digit(*p_)) ++p_;
    bool integer = true;
    if (p_ < end_ && *p_ == '.') {
      integer = false;
      ++p_;
      if (p_ == end_ || !is_digit(*p_)) return false;
      while (p_ < end_ && is_digit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !is_digit(*p_)) return false;
      while (p_ < end_ && is_digit(*p_)) ++p_;
    }
    if (out) describe_number(std::string_view(start, static_cast<std::size_t>(p_ - start)), integer, *out);
    return true;
  }

  static void describe_number(std::string_view literal, bool integer, ScannedField& out) {
    if (integer) {
      long long value = 0;
      auto [end, error] = std::from_chars(literal.data(), literal.data() + literal.size(), value);
      if (error == std::errc() && end == literal.data() + literal.size()) {
        out = {ScannedField::integer, std::to_string(value), value};
        return;
      }
      out = {ScannedField::number, std::string(literal), 0};  // beyond 64 bits
      return;
    }
    double value = std::strtod(std::string(literal).c_str(), nullptr);
    if (!std::isfinite(value)) {
      out = {ScannedField::number, value > 0 ? "Infinity" : "-Infinity", 0};
      return;
    }
    out = {ScannedField::number, nlohmann::json(value).dump(), 0};
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  const ScanOptions& options_;
  std::string error_;
};

}  // namespace

std::optional<TopLevelFields> scan_top_level(std::string_view text, const ScanOptions& options, std::string* error) {
  TopLevelFields fields;
  Scanner scanner(text, options);
  if (!scanner.run(fields)) {
    if (error) *error = scanner.error();
    return std::nullopt;
  }
  return fields;
}

std::optional<std::size_t> top_level_array_length(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t i = 0;
  while (i < text.size() && is_space(text[i])) ++i;
  if (i == text.size() || text[i] != '[') return std::nullopt;
  std::size_t depth = 0, commas = 0;
  bool in_string = false, escaped = false, any = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) break;
    } else if (c == ',' && depth == 1) {
      ++commas;
    }
    if (depth >= 1 && !is_space(c) && !(depth == 1 && (c == '[' || c == ','))) any = true;
  }
  return any ? commas + 1 : 0;
}

}  // namespace ps::json
