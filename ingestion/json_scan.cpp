#include "ingestion/json_scan.h"

#include <charconv>
#include <cstdlib>
#include <vector>

#include <nlohmann/json.hpp>

namespace ps::ingestion {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

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
  explicit Scanner(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  // Iterative, so nesting depth costs heap, not stack.
  bool run(TopLevelFields& fields) {
    std::vector<char> open;  // '{' or '[' for each container we are in
    ScannedField* target = nullptr;  // the wanted top-level field whose value comes next
    std::string key;
    skip_space();
    if (p_ == end_) return false;
    fields.is_object = *p_ == '{';
    for (;;) {
      // A value.
      skip_space();
      if (p_ == end_) return false;
      ScannedField* capture = open.size() == 1 ? target : nullptr;
      if (capture) *capture = ScannedField{ScannedField::other, {}, 0};
      char c = *p_;
      bool entered = false;
      if (c == '{' || c == '[') {
        ++p_;
        open.push_back(c);
        skip_space();
        if (p_ < end_ && *p_ == (c == '{' ? '}' : ']')) {
          ++p_;
          open.pop_back();
        } else {
          entered = true;
        }
      } else if (c == '"') {
        if (capture) capture->kind = ScannedField::string;
        if (!string(capture ? &capture->text : nullptr)) return false;
      } else if (c == '-' || is_digit(c)) {
        if (!number(capture)) return false;
      } else if (!literal("true") && !literal("false") && !literal("null")) {
        return false;
      }
      // A key, when the value opened an object; else what follows a value.
      if (entered && open.back() == '{') {
        if (!member_key(open.size() == 1, key, fields, target)) return false;
        continue;
      }
      if (entered) continue;  // an array's first value
      for (;;) {
        skip_space();
        if (open.empty()) return p_ == end_;
        if (p_ == end_) return false;
        c = *p_++;
        if (c == ',') {
          if (open.back() == '{' && !member_key(open.size() == 1, key, fields, target)) return false;
          break;
        }
        if (c != (open.back() == '{' ? '}' : ']')) return false;
        open.pop_back();
      }
    }
  }

 private:
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
    if (!string(top_level ? &key : nullptr)) return false;
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
        if (!utf8_sequence()) return false;
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
        int unit = hex4();
        if (unit < 0) return false;
        unsigned code_point = static_cast<unsigned>(unit);
        if (unit >= 0xDC00 && unit <= 0xDFFF) return false;  // a low surrogate needs a high one before it
        if (unit >= 0xD800 && unit <= 0xDBFF) {
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
          p_ += 2;
          int low = hex4();
          if (low < 0xDC00 || low > 0xDFFF) return false;
          code_point = 0x10000 + ((code_point - 0xD800) << 10) + (static_cast<unsigned>(low) - 0xDC00);
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

  int hex4() {
    if (end_ - p_ < 4) return -1;
    int value = 0;
    for (int i = 0; i < 4; ++i) {
      int digit = hex_value(p_[i]);
      if (digit < 0) return -1;
      value = value * 16 + digit;
    }
    p_ += 4;
    return value;
  }

  // One multi-byte UTF-8 character, well-formed as Unicode defines it (no
  // overlong forms, no surrogates, nothing past U+10FFFF).
  bool utf8_sequence() {
    auto byte = [&](int i) { return static_cast<unsigned char>(p_[i]); };
    unsigned char lead = byte(0);
    int length;
    unsigned char low = 0x80, high = 0xBF;  // range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) length = 2;
    else if (lead == 0xE0) length = 3, low = 0xA0;
    else if (lead >= 0xE1 && lead <= 0xEC) length = 3;
    else if (lead == 0xED) length = 3, high = 0x9F;
    else if (lead >= 0xEE && lead <= 0xEF) length = 3;
    else if (lead == 0xF0) length = 4, low = 0x90;
    else if (lead >= 0xF1 && lead <= 0xF3) length = 4;
    else if (lead == 0xF4) length = 4, high = 0x8F;
    else return false;
    if (end_ - p_ < length) return false;
    if (byte(1) < low || byte(1) > high) return false;
    for (int i = 2; i < length; ++i) {
      if (byte(i) < 0x80 || byte(i) > 0xBF) return false;
    }
    p_ += length;
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
    out = {ScannedField::number, nlohmann::json(value).dump(), 0};
  }

  const char* p_;
  const char* end_;
};

}  // namespace

std::optional<TopLevelFields> scan_top_level(std::string_view text) {
  TopLevelFields fields;
  if (!Scanner(text).run(fields)) return std::nullopt;
  return fields;
}

}  // namespace ps::ingestion
