#pragma once
// A one-pass JSON validator that also reads the few top-level fields the
// ingestion loop routes and checks by. Measured: nlohmann's SAX parser spent
// more CPU per event than the app itself (it builds every string of the
// document); this scanner builds only the strings it is asked for. It
// accepts exactly RFC 8259 JSON in UTF-8 (no byte order mark), the same
// texts nlohmann::json::accept does apart from the mark, which a
// differential test keeps true.

#include <optional>
#include <string>
#include <string_view>

namespace ps::ingestion {

// A top-level field's value, as far as the ingestion checks need it.
struct ScannedField {
  enum Kind { absent, string, integer, number, other } kind = absent;
  // string: the value; integer and number: its text as JavaScript's
  // String() gives it for a parsed value (integers beyond 64 bits as written).
  std::string text;
  long long integer_value = 0;  // integer only
};

struct TopLevelFields {
  bool is_object = false;
  ScannedField team_id, event, distinct_id, data;
};

// nullopt when `text` is not valid JSON.
std::optional<TopLevelFields> scan_top_level(std::string_view text);

}  // namespace ps::ingestion
