#pragma once
// A one-pass JSON validator that also reads the top level of the document:
// the few fields ingestion routes and checks by, and where every member is.
// Measured: nlohmann's SAX parser spent more CPU per event than the app
// itself (it builds every string of the document); this scanner builds only
// the strings it is asked for, and never recurses, so no depth costs stack.
//
// It accepts what the apps' own JSON.parse accepts, so nothing that passes
// here can be refused later: RFC 8259 JSON in UTF-8 (no byte order mark),
// plus the two things JavaScript takes that strict parsers refuse: escapes
// of lone surrogates ("\ud800", which JSON.stringify emits for them) and
// numbers beyond a double's range (JavaScript reads them as Infinity). It
// refuses texts nested deeper than `max_depth`, so nothing after it meets
// unbounded depth.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ps::json {

// A top-level field's value, as far as the ingestion checks need it.
struct ScannedField {
  enum Kind { absent, string, integer, number, other } kind = absent;
  // string: the value; integer and number: its text as JavaScript's
  // String() gives it for a parsed value (integers beyond 64 bits as written).
  std::string text;
  long long integer_value = 0;  // integer only
};

// One member of the top-level object, as spans of the scanned text.
struct Member {
  std::string_view raw_key;  // with its quotes and escapes, as written
  std::string key;           // decoded
  std::string_view value;    // the value's text
};

struct TopLevelFields {
  bool is_object = false;
  ScannedField team_id, event, distinct_id, data;
  std::vector<Member> members;  // in order; a repeated key appears each time
};

struct ScanOptions {
  std::size_t max_depth = 512;
  bool members = false;  // fill TopLevelFields::members
};

// nullopt when `text` is not valid JSON; `error` (if given) then says why.
std::optional<TopLevelFields> scan_top_level(std::string_view text, const ScanOptions& options = {},
                                             std::string* error = nullptr);

// How many elements the top-level array of `text` holds, for a text that
// is known to be valid JSON (one the daemon wrote, or Postgres returned): a
// byte scan, no validation. nullopt when the text is not an array.
std::optional<std::size_t> top_level_array_length(std::string_view text);

}  // namespace ps::json
