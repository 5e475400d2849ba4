#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "ingestion/message_parser.h"

using ps::ingestion::DeadLetter;
using ps::ingestion::ParsedEvent;
using ps::ingestion::parse_message;

namespace {
std::string reason(const std::string& bytes, std::size_t max = 1 << 20) {
  auto r = parse_message(bytes, max);
  REQUIRE(std::holds_alternative<DeadLetter>(r));
  return std::get<DeadLetter>(r).reason;
}
}  // namespace

TEST_CASE("message parser: a plain event", "[ingestion][parser]") {
  auto r = parse_message(R"({"event":"$pageview","team_id":2,"distinct_id":"u1","properties":{"a":1}})", 1 << 20);
  REQUIRE(std::holds_alternative<ParsedEvent>(r));
  auto e = std::get<ParsedEvent>(r);
  CHECK(e.team_id == 2);
  CHECK(e.distinct_id == "u1");
  CHECK(nlohmann::json::parse(e.json)["properties"]["a"] == 1);
}

TEST_CASE("message parser: an envelope's data is merged over it", "[ingestion][parser]") {
  nlohmann::json data = {{"event", "signup"}, {"distinct_id", 42}, {"properties", {{"plan", "pro"}}}, {"ip", "inner"}};
  nlohmann::json envelope = {{"team_id", 3}, {"ip", "outer"}, {"now", "2026-01-01T00:00:00Z"}, {"data", data.dump()}};
  auto r = parse_message(envelope.dump(), 1 << 20);
  REQUIRE(std::holds_alternative<ParsedEvent>(r));
  auto e = std::get<ParsedEvent>(r);
  auto event = nlohmann::json::parse(e.json);
  CHECK(e.team_id == 3);
  CHECK(e.distinct_id == "42");
  CHECK(event["ip"] == "inner");
  CHECK(event["now"] == "2026-01-01T00:00:00Z");
  CHECK(event["properties"]["plan"] == "pro");
  CHECK_FALSE(event.contains("data"));
}

TEST_CASE("message parser: every dead-letter case names its reason", "[ingestion][parser]") {
  CHECK(reason("not json") == "not valid JSON (at byte 0)");
  CHECK(reason("[1,2]") == "not a JSON object");
  CHECK(reason(R"({"event":"e","distinct_id":"d"})") == "missing team_id");
  CHECK(reason(R"({"event":"e","distinct_id":"d","team_id":"2"})") == "team_id is not an integer");
  CHECK(reason(R"({"team_id":1,"distinct_id":"d"})") == "missing event");
  CHECK(reason(R"({"team_id":1,"event":"","distinct_id":"d"})") == "event is not a non-empty string");
  CHECK(reason(R"({"team_id":1,"event":"e"})") == "missing distinct_id");
  CHECK(reason(R"({"team_id":1,"event":"e","distinct_id":null})") == "distinct_id is not a string or number");
  CHECK(reason(R"({"team_id":1,"data":"{oops"})") == "the envelope's data is not valid JSON (at byte 1)");
  CHECK(reason(R"({"team_id":1,"data":"[]"})") == "the envelope's data is not a JSON object");
  CHECK(reason(R"({"team_id":1,"event":"e","distinct_id":"d"})", 10) == "message is 43 bytes, over the limit of 10");
}

TEST_CASE("message parser: a plain event reaches the apps byte for byte", "[ingestion][parser]") {
  std::string bytes = R"({ "event": "e", "team_id": 7, "distinct_id": 1.50, "properties": {"team_id": "x", "n": [1, {"event": 2}]} })";
  auto r = parse_message(bytes, 1 << 20);
  REQUIRE(std::holds_alternative<ParsedEvent>(r));
  auto e = std::get<ParsedEvent>(r);
  CHECK(e.json == bytes);
  CHECK(e.team_id == 7);
  // As JSON.parse and String() would see it.
  CHECK(e.distinct_id == "1.5");
}

TEST_CASE("message parser: only top-level fields count, and a repeated one keeps its last value", "[ingestion][parser]") {
  CHECK(reason(R"({"properties":{"team_id":1},"event":"e","distinct_id":"d"})") == "missing team_id");
  CHECK(reason(R"({"team_id":1,"event":"e","distinct_id":"d","team_id":{}})") == "team_id is not an integer");
  CHECK(reason(R"({"team_id":18446744073709551615,"event":"e","distinct_id":"d"})") == "team_id is not an integer");
  CHECK(reason(R"({"team_id":1,"event":"e","distinct_id":"d"} trailing)") == "not valid JSON (at byte 44)");
  CHECK(reason("{\"team_id\":1,\"event\":\"\xff\",\"distinct_id\":\"d\"}") == "not valid JSON (at byte 22)");
  auto r = parse_message(R"({"team_id":1,"team_id":2,"event":"e","distinct_id":"d"})", 1 << 20);
  REQUIRE(std::holds_alternative<ParsedEvent>(r));
  CHECK(std::get<ParsedEvent>(r).team_id == 2);
}

TEST_CASE("message parser: what JavaScript accepts reaches the apps, envelopes included", "[ingestion][parser]") {
  // A number beyond a double in the envelope (it once crashed the consumer)
  // and lone surrogates, which JSON.stringify writes and JSON.parse reads.
  std::string envelope = R"({"data":"{\"event\":\"e\",\"distinct_id\":\"d\",\"x\":\"\\ud800\"}","team_id":4,"x":1e400,"n":-1e999})";
  auto r = parse_message(envelope, 1 << 20);
  REQUIRE(std::holds_alternative<ParsedEvent>(r));
  auto e = std::get<ParsedEvent>(r);
  CHECK(e.team_id == 4);
  CHECK(e.json == R"({"team_id":4,"n":-1e999,"event":"e","distinct_id":"d","x":"\ud800"})");
  auto plain = parse_message(R"({"team_id":1,"event":"\udc00","distinct_id":"d","big":1e400})", 1 << 20);
  CHECK(std::holds_alternative<ParsedEvent>(plain));
}

TEST_CASE("message parser: nesting deeper than the limit is a dead letter, at any size", "[ingestion][parser]") {
  std::string deep = R"({"team_id":1,"event":"e","distinct_id":"d","p":)" + std::string(300000, '[') +
                     std::string(300000, ']') + "}";
  CHECK(reason(deep, 1 << 20) == "nested deeper than 512 levels");
  // In an envelope's data too, counted from the outer text.
  std::string inner = R"({\"event\":\"e\",\"distinct_id\":\"d\",\"p\":)" + std::string(300000, '[') +
                      std::string(300000, ']') + "}";
  CHECK(reason(R"({"team_id":1,"data":")" + inner + "\"}", 1 << 20) == "the envelope's data is nested deeper than 511 levels");
  auto at_limit = R"({"team_id":1,"event":"e","distinct_id":"d","p":)" + std::string(9, '[') + std::string(9, ']') + "}";
  CHECK(std::holds_alternative<ParsedEvent>(parse_message(at_limit, 1 << 20, 10)));
  auto r = parse_message("{\"p\":" + at_limit + "}", 1 << 20, 10);
  REQUIRE(std::holds_alternative<DeadLetter>(r));
  CHECK(std::get<DeadLetter>(r).reason == "nested deeper than 10 levels");
}
