#pragma once
// Turns an input message into an event, or says why it belongs in the
// dead-letter topic. Messages are either a plain event object, or an
// envelope whose `data` field is the event as a JSON string (merged over the
// envelope: the event's fields win).

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

namespace ps::ingestion {

struct ParsedEvent {
  long long team_id = 0;
  std::string distinct_id;
  std::string json;  // the event as the apps receive it: a plain event's bytes unchanged
  int capture_hops = 0;  // from the message's headers: captures in a row that led to it
};

struct DeadLetter {
  std::string reason;
};

// Messages over `max_bytes`, or nested deeper than `max_depth`, are dead letters.
std::variant<ParsedEvent, DeadLetter> parse_message(std::string_view bytes, std::size_t max_bytes,
                                                    std::size_t max_depth = 512);

}  // namespace ps::ingestion
