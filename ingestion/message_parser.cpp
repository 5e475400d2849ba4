#include "ingestion/message_parser.h"

#include <optional>

#include <nlohmann/json.hpp>

namespace ps::ingestion {

namespace {

using json = nlohmann::json;

// A top-level field's value, as far as the checks below need it.
struct Field {
  enum Kind { absent, string, integer, number, other } kind = absent;
  std::string text;  // string: the value; integer and number: its JSON form
  long long integer_value = 0;
};

// Reads the top level of a JSON text without building it in memory: plain
// events (nearly all input) are validated and passed on as they came, so
// each one costs a single scan here and one parse in the apps.
class TopLevelScan : public nlohmann::json_sax<json> {
 public:
  bool is_object = false;
  Field team_id, event, distinct_id, data;

  bool null() override { return value(Field{Field::other, {}, 0}); }
  bool boolean(bool) override { return value(Field{Field::other, {}, 0}); }
  bool number_integer(number_integer_t v) override {
    return value({Field::integer, std::to_string(v), static_cast<long long>(v)});
  }
  bool number_unsigned(number_unsigned_t v) override {
    // Beyond a signed 64-bit integer is no team id anyone has.
    if (v > static_cast<number_unsigned_t>(std::numeric_limits<long long>::max())) {
      return value({Field::number, std::to_string(v), 0});
    }
    return value({Field::integer, std::to_string(v), static_cast<long long>(v)});
  }
  bool number_float(number_float_t v, const string_t&) override { return value({Field::number, json(v).dump(), 0}); }
  bool string(string_t& v) override { return value({Field::string, std::move(v), 0}); }
  bool binary(binary_t&) override { return value(Field{Field::other, {}, 0}); }
  bool start_object(std::size_t) override {
    if (depth_ == 0) is_object = true;
    value(Field{Field::other, {}, 0});
    ++depth_;
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    value(Field{Field::other, {}, 0});
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 1) {
      if (k == "team_id") current_ = &team_id;
      else if (k == "event") current_ = &event;
      else if (k == "distinct_id") current_ = &distinct_id;
      else if (k == "data") current_ = &data;
      else current_ = nullptr;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  // Records the value of the top-level key just read, if it is one we want
  // (a repeated key keeps its last value, as JSON.parse does).
  bool value(Field f) {
    if (depth_ == 1 && current_) *current_ = std::move(f);
    if (depth_ == 1) current_ = nullptr;
    return true;
  }

  int depth_ = 0;
  Field* current_ = nullptr;
};

std::optional<TopLevelScan> scan(std::string_view text) {
  TopLevelScan fields;
  if (!json::sax_parse(text, &fields)) return std::nullopt;
  return fields;
}

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
  auto fields = scan(bytes);
  if (!fields) return DeadLetter{"not valid JSON"};
  if (!fields->is_object) return DeadLetter{"not a JSON object"};
  ParsedEvent out;
  if (fields->data.kind == Field::string) {
    auto merged = merge_envelope(bytes);
    if (auto* dead = std::get_if<DeadLetter>(&merged)) return *dead;
    out.json = std::move(std::get<std::string>(merged));
    fields = scan(out.json);
  } else {
    out.json = bytes;
  }
  if (fields->team_id.kind == Field::absent) return DeadLetter{"missing team_id"};
  if (fields->team_id.kind != Field::integer) return DeadLetter{"team_id is not an integer"};
  if (fields->event.kind == Field::absent) return DeadLetter{"missing event"};
  if (fields->event.kind != Field::string || fields->event.text.empty()) {
    return DeadLetter{"event is not a non-empty string"};
  }
  auto& distinct = fields->distinct_id;
  if (distinct.kind == Field::absent) return DeadLetter{"missing distinct_id"};
  if (distinct.kind != Field::string && distinct.kind != Field::integer && distinct.kind != Field::number) {
    return DeadLetter{"distinct_id is not a string or number"};
  }
  if (distinct.text.empty()) return DeadLetter{"distinct_id is empty"};
  out.team_id = fields->team_id.integer_value;
  out.distinct_id = std::move(distinct.text);
  return out;
}

}  // namespace ps::ingestion
