#include "json/edit.h"

#include <set>

namespace ps::json {

namespace {

const char kHex[] = "0123456789abcdef";

// The last member named `key`, which is the one JSON.parse keeps.
const Member* last_member(const TopLevelFields& fields, std::string_view key) {
  const Member* found = nullptr;
  for (const auto& m : fields.members) {
    if (m.key == key) found = &m;
  }
  return found;
}

void append_member(std::string& out, std::string_view raw_key, std::string_view value) {
  if (out.size() > 1) out += ',';
  out.append(raw_key);
  out += ':';
  out.append(value);
}

// `fields`' object with member `key` replaced by (or given) `value`.
std::string with_member(const TopLevelFields& fields, std::string_view key, std::string_view value) {
  std::string out = "{";
  for (const auto& m : fields.members) {
    if (m.key != key) append_member(out, m.raw_key, m.value);
  }
  append_member(out, quote(key), value);
  out += '}';
  return out;
}

}  // namespace

std::string quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string merge_members(const TopLevelFields& under, std::string_view skip_key, const TopLevelFields& over) {
  std::set<std::string_view> replaced;
  for (const auto& m : over.members) replaced.insert(m.key);
  std::string out = "{";
  for (const auto& m : under.members) {
    if (m.key != skip_key && !replaced.count(m.key)) append_member(out, m.raw_key, m.value);
  }
  for (const auto& m : over.members) append_member(out, m.raw_key, m.value);
  out += '}';
  return out;
}

std::optional<std::string> append_to_property_list(std::string_view text, std::string_view list_key,
                                                   std::string_view item, const ScanOptions& limits) {
  ScanOptions with_members = limits;
  with_members.members = true;
  auto event = scan_top_level(text, with_members);
  if (!event || !event->is_object) return std::nullopt;
  std::optional<TopLevelFields> properties;
  if (const auto* p = last_member(*event, "properties")) properties = scan_top_level(p->value, with_members);
  if (!properties || !properties->is_object) properties = TopLevelFields{true, {}, {}, {}, {}, {}};
  std::string list = "[";
  if (const auto* existing = last_member(*properties, list_key); existing && existing->value.front() == '[') {
    // Everything before the closing bracket, then the new item.
    auto inside = existing->value.substr(1, existing->value.size() - 2);
    auto first = inside.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos) {
      list.append(inside.substr(first));
      list += ',';
    }
  }
  list.append(item);
  list += ']';
  return with_member(*event, "properties", with_member(*properties, list_key, list));
}

}  // namespace ps::json
