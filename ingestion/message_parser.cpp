#include "ingestion/message_parser.h"

#include <nlohmann/json.hpp>

namespace ps::ingestion {

std::variant<ParsedEvent, DeadLetter> parse_message(std::string_view bytes, std::size_t max_bytes) {
  if (bytes.size() > max_bytes) {
    return DeadLetter{"message is " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                      std::to_string(max_bytes)};
  }
  auto doc = nlohmann::json::parse(bytes, nullptr, false);
  if (doc.is_discarded()) return DeadLetter{"not valid JSON"};
  if (!doc.is_object()) return DeadLetter{"not a JSON object"};
  if (auto data = doc.find("data"); data != doc.end() && data->is_string()) {
    auto event = nlohmann::json::parse(data->get<std::string>(), nullptr, false);
    if (event.is_discarded()) return DeadLetter{"the envelope's data is not valid JSON"};
    if (!event.is_object()) return DeadLetter{"the envelope's data is not a JSON object"};
    doc.erase("data");
    for (auto& [key, value] : event.items()) doc[key] = std::move(value);
  }
  auto team = doc.find("team_id");
  if (team == doc.end()) return DeadLetter{"missing team_id"};
  if (!team->is_number_integer()) return DeadLetter{"team_id is not an integer"};
  auto event = doc.find("event");
  if (event == doc.end()) return DeadLetter{"missing event"};
  if (!event->is_string() || event->get<std::string>().empty()) return DeadLetter{"event is not a non-empty string"};
  auto distinct = doc.find("distinct_id");
  if (distinct == doc.end()) return DeadLetter{"missing distinct_id"};
  ParsedEvent out;
  if (distinct->is_string()) out.distinct_id = distinct->get<std::string>();
  else if (distinct->is_number()) out.distinct_id = distinct->dump();
  else return DeadLetter{"distinct_id is not a string or number"};
  if (out.distinct_id.empty()) return DeadLetter{"distinct_id is empty"};
  out.team_id = team->get<long long>();
  out.json = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return out;
}

}  // namespace ps::ingestion
