#pragma once
// plugin.json: what an app declares about itself.

#include <stdexcept>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ps::runtime {

// A bundle that cannot be used; the message names the bundle and the file.
class BundleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ConfigField {
  std::string key;
  std::string name;
  std::string type = "string";  // string, json, choice, attachment, boolean
  nlohmann::json default_value;  // null when absent
  bool required = false;
  bool secret = false;
  std::vector<std::string> choices;  // for type "choice"
  std::string hint;
  // required_if: [[key, value], ...]: the field is required when any other
  // field `key` holds `value` (or, without a value, holds anything).
  // visible_if only shapes a settings form: accepted, not used.
  std::vector<std::pair<std::string, std::optional<std::string>>> required_if;
};

struct Manifest {
  std::string name;
  std::string description;
  std::string main;  // empty when plugin.json names none: the bundle picks index.js or index.ts
  std::vector<ConfigField> config;
  std::vector<std::string> public_jobs;
  // Each public job's declared payload ({"field": {"type", "required",
  // "default", "title"}}), as plugin.json has it; see public_job_payload.h.
  std::map<std::string, nlohmann::json> public_job_payloads;

  const ConfigField* field(const std::string& key) const;
};

// Parses and validates plugin.json text; `source` names it in errors.
Manifest parse_manifest(const std::string& text, const std::string& source);

}  // namespace ps::runtime
