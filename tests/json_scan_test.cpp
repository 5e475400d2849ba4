// The top-level scanner against the apps' own JSON.parse (the oracle for
// which texts are valid) and nlohmann::json (the oracle for the fields read,
// where it parses the text too).

#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "json/scan.h"
#include "tests/support/js_json.h"
#include "tests/support/process.h"

using ps::json::scan_top_level;
using ps::json::ScannedField;
using nlohmann::json;

namespace {

// What the scanner should read for one top-level field, from the DOM.
ScannedField expected_field(const json& doc, const char* name) {
  if (!doc.is_object() || !doc.contains(name)) return {};
  const auto& v = doc.at(name);
  if (v.is_string()) return {ScannedField::string, v.get<std::string>(), 0};
  if (v.is_number_integer() && !(v.is_number_unsigned() && v.get<unsigned long long>() > 9223372036854775807ull)) {
    return {ScannedField::integer, std::to_string(v.get<long long>()), v.get<long long>()};
  }
  if (v.is_number_unsigned()) return {ScannedField::number, std::to_string(v.get<unsigned long long>()), 0};
  if (v.is_number_float()) return {ScannedField::number, v.dump(), 0};
  return {ScannedField::other, {}, 0};
}

// Checks the scanner agrees with JSON.parse on `text` (nesting within the
// scanner's default depth), and with nlohmann's DOM on the fields; returns
// whether it is valid.
bool agrees(const std::string& text) {
  auto scanned = scan_top_level(text, {.max_depth = 512, .members = true});
  bool valid = ps::test::js_json_accepts(text);
  INFO("text: " << text);
  REQUIRE(scanned.has_value() == valid);
  if (!valid) return false;
  // nlohmann refuses what only JavaScript takes (lone surrogates, numbers
  // beyond a double): fields are compared where it parses the text.
  if (!json::accept(text)) return true;
  auto doc = json::parse(text);
  CHECK(scanned->is_object == doc.is_object());
  for (auto [name, field] : {std::pair{"team_id", &scanned->team_id}, std::pair{"event", &scanned->event},
                             std::pair{"distinct_id", &scanned->distinct_id}, std::pair{"data", &scanned->data}}) {
    auto want = expected_field(doc, name);
    INFO("field " << name);
    CHECK(field->kind == want.kind);
    if (want.kind != ScannedField::other) CHECK(field->text == want.text);
    CHECK(field->integer_value == want.integer_value);
  }
  // Every member's value is the text of that member.
  if (doc.is_object()) {
    json rebuilt = json::object();
    for (const auto& m : scanned->members) rebuilt[m.key] = json::parse(m.value);
    CHECK(rebuilt == doc);
  }
  return true;
}

std::string fixture_event() {
  std::ifstream in(ps::test::source_dir() + "/bench/fixtures/event.json");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("json scan: hand-picked valid and invalid texts agree with nlohmann", "[ingestion][json-scan]") {
  const char* valid[] = {
      R"({"team_id":1,"event":"e","distinct_id":"d"})",
      " \t\r\n{ \"team_id\" : -12 , \"event\" : \"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\" } \n",
      R"({"event":"\u00e9\u4e2d\ud83d\ude00","distinct_id":1.50,"team_id":0})",
      R"({"distinct_id":-0,"team_id":9223372036854775807})",
      R"({"team_id":18446744073709551615,"distinct_id":1e3,"event":null})",
      R"({"team_id":{"team_id":2},"data":"{\"x\":1}","event":["e"]})",
      R"({"properties":{"team_id":5,"list":[1,2.5e-3,true,false,null,"s",[],{}]},"team_id":3,"team_id":4})",
      "{\"event\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",\"x\":\"\x7f\"}",
      "[1,2,3]", "\"just a string\"", "42", "true", "null", "{}", "[]", "[[[[[]]]]]",
  };
  for (const char* text : valid) CHECK(agrees(text));
  const char* invalid[] = {
      "", " ", "{", "}", "[1,]", "{,}", R"({"a":1,})", R"({"a" 1})", R"({a:1})", "{'a':1}", "01", "-", "1.", ".5",
      "1e", "+1", "1 2", "{} x", "nul", "tru", R"({"a":"\x"})", R"({"a":"\u12"})", "{\"a\":\"\x01\"}", "{\"a\":\"\xc0\xaf\"}",
      "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xe2\x82\"}", "{\"a\":\"\x80\"}",
      "{\"a\":1}\xff", R"({"a":[1,2})", R"({"a":[1,2]]})", R"(["a":1])",
  };
  for (const char* text : invalid) CHECK_FALSE(agrees(text));
  // What JavaScript takes and strict parsers refuse: lone surrogates (which
  // JSON.stringify writes for them) and numbers beyond a double.
  const char* js_only[] = {
      R"({"a":"\ud800"})", R"({"a":"\udc00"})", R"({"a":"\ud800\u0041"})", R"({"a":"x\udbff"})",
      R"({"team_id":1,"event":"e","distinct_id":1e400,"x":-1e999})",
  };
  for (const char* text : js_only) CHECK(agrees(text));
  auto big = scan_top_level(R"({"distinct_id":1e400,"event":"\ud800x"})");
  REQUIRE(big);
  CHECK(big->distinct_id.text == "Infinity");
  CHECK(big->event.text == "\xed\xa0\x80x");
  // A byte order mark is refused (apps' JSON.parse would refuse it too).
  CHECK_FALSE(scan_top_level("\xEF\xBB\xBF{}"));
}

TEST_CASE("json scan: deep nesting is scanned without recursion, up to the depth limit", "[ingestion][json-scan]") {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(scan_top_level(deep, {.max_depth = 100000}));
  CHECK_FALSE(scan_top_level(std::string(100000, '[') + std::string(99999, ']'), {.max_depth = 100000}));
  std::string error;
  CHECK_FALSE(scan_top_level(deep, {}, &error));
  CHECK(error == "nested deeper than 512 levels");
  auto at_limit = std::string(511, '[') + "{}" + std::string(511, ']');
  CHECK(scan_top_level(at_limit));
  CHECK_FALSE(scan_top_level("[" + at_limit + "]"));
  CHECK_FALSE(scan_top_level("{\"a\":\"x\"", {}, &error));
  CHECK(error == "not valid JSON (at byte 8)");
}

TEST_CASE("json scan: members are the top-level object's, with their raw keys", "[ingestion][json-scan]") {
  auto fields = scan_top_level(R"( { "a" : [1, {"b":2}] , "c\u0064":"x","a":{} } )", {.members = true});
  REQUIRE(fields);
  REQUIRE(fields->members.size() == 3);
  CHECK(fields->members[0].key == "a");
  CHECK(fields->members[0].value == R"([1, {"b":2}])");
  CHECK(fields->members[1].raw_key == R"("c\u0064")");
  CHECK(fields->members[1].key == "cd");
  CHECK(fields->members[1].value == R"("x")");
  CHECK(fields->members[2].value == "{}");
  CHECK(scan_top_level("[1,2]", {.members = true})->members.empty());
}

TEST_CASE("json scan: thousands of mutated events agree with nlohmann", "[ingestion][json-scan]") {
  std::vector<std::string> seeds = {
      fixture_event(),
      R"({"team_id":1,"event":"e","distinct_id":"d","data":"{\"event\":\"x\"}","n":[1,-2.5e+3,{"k":"\u00e9"}]})",
      "{\"team_id\":12,\"event\":\"\xe4\xb8\xad\",\"distinct_id\":7}",
  };
  const std::string interesting = "{}[]\",:\\-+.eE0123456789 tfnu\x80\xc3\xe2\xf0\xff\x01";
  std::mt19937 random(20261129);
  int valid = 0;
  for (int round = 0; round < 6000; ++round) {
    std::string text = seeds[random() % seeds.size()];
    int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      std::size_t at = random() % text.size();
      char c = interesting[random() % interesting.size()];
      switch (random() % 3) {
        case 0: text[at] = c; break;
        case 1: text.insert(text.begin() + static_cast<long>(at), c); break;
        default: text.erase(at, 1 + random() % 3); break;
      }
    }
    if (text.rfind("\xEF\xBB\xBF", 0) == 0) continue;
    if (agrees(text)) ++valid;
  }
  // Both kinds were exercised.
  CHECK(valid > 300);
  CHECK(valid < 5700);
}

TEST_CASE("json: the length of a top-level array, by a byte scan that minds strings and nesting", "[json]") {
  using ps::json::top_level_array_length;
  CHECK(top_level_array_length("[]") == 0u);
  CHECK(top_level_array_length(" [ ] ") == 0u);
  CHECK(top_level_array_length("[1]") == 1u);
  CHECK(top_level_array_length(R"([{"a": [1, 2, {"b": ","}]}, "x,y", [[]], null])") == 4u);
  CHECK(top_level_array_length(R"(["a\"],", "b"])") == 2u);
  CHECK(top_level_array_length(R"({"a": [1, 2]})") == std::nullopt);
  CHECK(top_level_array_length("") == std::nullopt);
}
