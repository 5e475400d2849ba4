#pragma once
// Edits of JSON object texts that keep every untouched member byte for byte,
// built on the scanner's member spans: no DOM, no recursion, and nothing the
// scanner accepted is refused here (lone surrogates and big numbers included).

#include <optional>
#include <string>
#include <string_view>

#include "json/scan.h"

namespace ps::json {

// `text` as a JSON string literal (quotes and escapes added).
std::string quote(std::string_view text);

// One object holding the members of `under` except `skip_key`, then the
// members of `over`; where both have a key, only `over`'s is kept. Both must
// have been scanned with members.
std::string merge_members(const TopLevelFields& under, std::string_view skip_key, const TopLevelFields& over);

// The object `text` with `item` (a JSON value's text) appended to the array
// at properties[list_key], creating `properties` or the array where they are
// missing or not of that type. nullopt when `text` is not a JSON object.
std::optional<std::string> append_to_property_list(std::string_view text, std::string_view list_key,
                                                   std::string_view item, const ScanOptions& limits);

}  // namespace ps::json
