// libFuzzer target: any bytes as an input message. The parser must never
// crash, and what it accepts must be JSON the rest of the pipeline can
// route and edit: scanned again, and marked failed, without a refusal.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "ingestion/message_parser.h"
#include "json/edit.h"
#include "json/scan.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto parsed = ps::ingestion::parse_message(bytes, 1 << 20, 64);
  auto* event = std::get_if<ps::ingestion::ParsedEvent>(&parsed);
  if (!event) return 0;
  auto fields = ps::json::scan_top_level(event->json, {64, true});
  if (!fields || !fields->is_object || fields->team_id.integer_value != event->team_id) std::abort();
  auto marked = ps::json::append_to_property_list(event->json, "$plugins_failed", ps::json::quote("app (1)"), {65});
  if (!marked || !ps::json::scan_top_level(*marked, {66})) std::abort();
  return 0;
}
