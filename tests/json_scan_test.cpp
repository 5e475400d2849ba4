// The top-level scanner against nlohmann::json (the oracle): the same texts
// are valid, and the fields read are the DOM's.

#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ingestion/json_scan.h"
#include "tests/support/process.h"

using ps::ingestion::scan_top_level;
using ps::ingestion::ScannedField;
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

// Checks the scanner agrees with nlohmann on `text`; returns whether it is valid.
bool agrees(const std::string& text) {
  auto scanned = scan_top_level(text);
  bool valid = json::accept(text);
  INFO("text: " << text);
  REQUIRE(scanned.has_value() == valid);
  if (!valid) return false;
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
      "1e", "+1", "1 2", "{} x", "nul", "tru", R"({"a":"\x"})", R"({"a":"\u12"})", R"({"a":"\ud800"})",
      R"({"a":"\udc00"})", R"({"a":"\ud800\u0041"})", "{\"a\":\"\x01\"}", "{\"a\":\"\xc0\xaf\"}",
      "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xe2\x82\"}", "{\"a\":\"\x80\"}",
      "{\"a\":1}\xff", R"({"a":[1,2})", R"({"a":[1,2]]})", R"(["a":1])",
  };
  for (const char* text : invalid) CHECK_FALSE(agrees(text));
  // A byte order mark is refused (apps' JSON.parse would refuse it too).
  CHECK_FALSE(scan_top_level("\xEF\xBB\xBF{}"));
}

TEST_CASE("json scan: deep nesting is scanned without recursion", "[ingestion][json-scan]") {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(scan_top_level(deep));
  CHECK_FALSE(scan_top_level(std::string(100000, '[') + std::string(99999, ']')));
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
