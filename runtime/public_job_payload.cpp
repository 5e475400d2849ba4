#include "runtime/public_job_payload.h"

#include <regex>

namespace ps::runtime {

namespace {

// An ISO 8601 date, optionally with a time ("2026-12-04", "2026-12-04T10:00:00Z").
bool is_date(const nlohmann::json& value) {
  static const std::regex date(R"(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?)");
  return value.is_string() && std::regex_match(value.get_ref<const std::string&>(), date);
}

// Why `value` is not of `type`, or "" when it is.
std::string type_problem(const std::string& type, const nlohmann::json& value) {
  if (type == "string") return value.is_string() ? "" : "expected a string";
  if (type == "boolean") return value.is_boolean() ? "" : "expected true or false";
  if (type == "number") return value.is_number() ? "" : "expected a number";
  if (type == "json") return "";  // any JSON value
  if (type == "date") return is_date(value) ? "" : "expected a date (YYYY-MM-DD, optionally with a time)";
  if (type == "daterange") {
    bool ok = value.is_array() && value.size() == 2 && is_date(value[0]) && is_date(value[1]);
    return ok ? "" : "expected a date range: [start, end], two dates";
  }
  return "the app declares an unknown type \"" + type + "\"";
}

}  // namespace

CheckedPayload check_public_job_payload(const nlohmann::json& declared, const nlohmann::json& payload) {
  CheckedPayload out{payload.is_null() ? nlohmann::json::object() : payload, {}};
  if (!out.payload.is_object()) {
    out.problems.push_back("the payload must be a JSON object");
    return out;
  }
  if (declared.is_null()) return out;
  if (!declared.is_object()) {
    out.problems.push_back("the app's plugin.json declares this job's payload as something other than an object");
    return out;
  }
  for (const auto& [key, field] : declared.items()) {
    if (!field.is_object()) {
      out.problems.push_back(key + ": the app's plugin.json declares it as something other than an object");
      continue;
    }
    auto type = field.contains("type") && field["type"].is_string() ? field["type"].get<std::string>() : "string";
    bool required = field.contains("required") && field["required"] == true;
    if (!out.payload.contains(key) || out.payload[key].is_null()) {
      if (field.contains("default") && !field["default"].is_null()) {
        out.payload[key] = field["default"];
      } else if (required) {
        out.problems.push_back(key + ": required");
      }
      continue;
    }
    if (auto problem = type_problem(type, out.payload[key]); !problem.empty()) out.problems.push_back(key + ": " + problem);
  }
  for (const auto& [key, _] : out.payload.items()) {
    if (!declared.contains(key)) out.problems.push_back(key + ": not a field of this job's payload");
  }
  return out;
}

}  // namespace ps::runtime
