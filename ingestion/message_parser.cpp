#include "ingestion/message_parser.h"

#include "json/edit.h"
#include "json/scan.h"

namespace ps::ingestion {

std::variant<ParsedEvent, DeadLetter> parse_message(std::string_view bytes, std::size_t max_bytes,
                                                    std::size_t max_depth) {
  if (bytes.size() > max_bytes) {
    return DeadLetter{"message is " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                      std::to_string(max_bytes)};
  }
  // Plain events need no member spans: only an envelope, read again, does.
  json::ScanOptions options{max_depth, /*members=*/false};
  std::string error;
  auto fields = json::scan_top_level(bytes, options, &error);
  if (!fields) return DeadLetter{error};
  if (!fields->is_object) return DeadLetter{"not a JSON object"};
  ParsedEvent out;
  if (fields->data.kind == json::ScannedField::string) {
    // An envelope: the event in `data` merged over the envelope, without
    // `data`; the event's fields win. Depth counts from the outer text.
    options.members = true;
    fields = json::scan_top_level(bytes, options, &error);
    json::ScanOptions inner_options{max_depth - 1, true};
    auto event = json::scan_top_level(fields->data.text, inner_options, &error);
    if (!event) return DeadLetter{"the envelope's data is " + error};
    if (!event->is_object) return DeadLetter{"the envelope's data is not a JSON object"};
    out.json = json::merge_members(*fields, "data", *event);
    fields = json::scan_top_level(out.json, {max_depth}, &error);
    if (!fields) return DeadLetter{"the merged envelope is " + error};
  } else {
    out.json = bytes;
  }
  if (fields->team_id.kind == json::ScannedField::absent) return DeadLetter{"missing team_id"};
  if (fields->team_id.kind != json::ScannedField::integer) return DeadLetter{"team_id is not an integer"};
  if (fields->event.kind == json::ScannedField::absent) return DeadLetter{"missing event"};
  if (fields->event.kind != json::ScannedField::string || fields->event.text.empty()) {
    return DeadLetter{"event is not a non-empty string"};
  }
  auto& distinct = fields->distinct_id;
  if (distinct.kind == json::ScannedField::absent) return DeadLetter{"missing distinct_id"};
  if (distinct.kind != json::ScannedField::string && distinct.kind != json::ScannedField::integer &&
      distinct.kind != json::ScannedField::number) {
    return DeadLetter{"distinct_id is not a string or number"};
  }
  if (distinct.text.empty()) return DeadLetter{"distinct_id is empty"};
  out.team_id = fields->team_id.integer_value;
  out.distinct_id = std::move(distinct.text);
  return out;
}

}  // namespace ps::ingestion
