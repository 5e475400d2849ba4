#include "ingestion/message_parser.h"

#include <nlohmann/json.hpp>

#include "ingestion/json_scan.h"

namespace ps::ingestion {

namespace {

using json = nlohmann::json;

// The envelope's `data` (an event as a JSON string) merged over the
// envelope, without `data`: the event's fields win.
std::variant<std::string, DeadLetter> merge_envelope(std::string_view bytes) {
  auto doc = json::parse(bytes, nullptr, false);
  auto event = json::parse(doc["data"].get_ref<const std::string&>(), nullptr, false);
  if (event.is_discarded()) return DeadLetter{"the envelope's data is not valid JSON"};
  if (!event.is_object()) return DeadLetter{"the envelope's data is not a JSON object"};
  doc.erase("data");
  for (auto& [key, value] : event.items()) doc[key] = std::move(value);
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::variant<ParsedEvent, DeadLetter> parse_message(std::string_view bytes, std::size_t max_bytes) {
  if (bytes.size() > max_bytes) {
    return DeadLetter{"message is " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                      std::to_string(max_bytes)};
  }
  auto fields = scan_top_level(bytes);
  if (!fields) return DeadLetter{"not valid JSON"};
  if (!fields->is_object) return DeadLetter{"not a JSON object"};
  ParsedEvent out;
  if (fields->data.kind == ScannedField::string) {
    auto merged = merge_envelope(bytes);
    if (auto* dead = std::get_if<DeadLetter>(&merged)) return *dead;
    out.json = std::move(std::get<std::string>(merged));
    fields = scan_top_level(out.json);
  } else {
    out.json = bytes;
  }
  if (fields->team_id.kind == ScannedField::absent) return DeadLetter{"missing team_id"};
  if (fields->team_id.kind != ScannedField::integer) return DeadLetter{"team_id is not an integer"};
  if (fields->event.kind == ScannedField::absent) return DeadLetter{"missing event"};
  if (fields->event.kind != ScannedField::string || fields->event.text.empty()) {
    return DeadLetter{"event is not a non-empty string"};
  }
  auto& distinct = fields->distinct_id;
  if (distinct.kind == ScannedField::absent) return DeadLetter{"missing distinct_id"};
  if (distinct.kind != ScannedField::string && distinct.kind != ScannedField::integer && distinct.kind != ScannedField::number) {
    return DeadLetter{"distinct_id is not a string or number"};
  }
  if (distinct.text.empty()) return DeadLetter{"distinct_id is empty"};
  out.team_id = fields->team_id.integer_value;
  out.distinct_id = std::move(distinct.text);
  return out;
}

}  // namespace ps::ingestion
