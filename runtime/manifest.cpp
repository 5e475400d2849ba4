#include "runtime/manifest.h"

#include <set>

namespace ps::runtime {

namespace {

std::string string_member(const nlohmann::json& obj, const char* key, const std::string& where,
                          bool required, const std::string& fallback = "") {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) throw BundleError(where + ": \"" + key + "\" is required");
    return fallback;
  }
  if (!it->is_string()) throw BundleError(where + ": \"" + key + "\" must be a string");
  return it->get<std::string>();
}

bool bool_member(const nlohmann::json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw BundleError(where + ": \"" + key + "\" must be true or false");
  return it->get<bool>();
}

ConfigField parse_field(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object()) throw BundleError(where + ": must be an object");
  ConfigField f;
  f.key = string_member(entry, "key", where, true);
  if (f.key.empty()) throw BundleError(where + ": \"key\" must not be empty");
  f.name = string_member(entry, "name", where, false, f.key);
  f.type = string_member(entry, "type", where, false, "string");
  if (f.type != "string" && f.type != "json" && f.type != "choice" && f.type != "attachment" && f.type != "boolean") {
    throw BundleError(where + ": \"type\" must be string, json, choice, attachment or boolean, got \"" + f.type + "\"");
  }
  f.hint = string_member(entry, "hint", where, false);
  f.required = bool_member(entry, "required", where);
  f.secret = bool_member(entry, "secret", where);
  if (auto it = entry.find("default"); it != entry.end()) f.default_value = *it;
  if (auto it = entry.find("choices"); it != entry.end() && !it->is_null()) {
    if (!it->is_array()) throw BundleError(where + ": \"choices\" must be an array of strings");
    for (const auto& choice : *it) {
      if (!choice.is_string()) throw BundleError(where + ": \"choices\" must be an array of strings");
      f.choices.push_back(choice.get<std::string>());
    }
  }
  if (auto it = entry.find("required_if"); it != entry.end() && !it->is_null()) {
    auto bad = [&] { return BundleError(where + ": \"required_if\" must be a list of [key, value] pairs"); };
    if (!it->is_array()) throw bad();
    for (const auto& pair : *it) {
      if (!pair.is_array() || pair.empty() || pair.size() > 2 || !pair[0].is_string()) throw bad();
      std::optional<std::string> value;
      if (pair.size() == 2 && !pair[1].is_null()) {
        if (!pair[1].is_string()) throw bad();
        value = pair[1].get<std::string>();
      }
      f.required_if.emplace_back(pair[0].get<std::string>(), std::move(value));
    }
  }
  if (f.type == "choice" && f.choices.empty()) {
    throw BundleError(where + ": a \"choice\" field needs a non-empty \"choices\" list");
  }
  return f;
}

}  // namespace

const ConfigField* Manifest::field(const std::string& key) const {
  for (const auto& f : config) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

Manifest parse_manifest(const std::string& text, const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // A syntax error, or a number beyond a double (out_of_range): both mean the file is unusable.
    throw BundleError(source + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object()) throw BundleError(source + ": must be a JSON object");
  Manifest m;
  m.name = string_member(doc, "name", source, true);
  if (m.name.empty()) throw BundleError(source + ": \"name\" must not be empty");
  m.description = string_member(doc, "description", source, false);
  m.main = string_member(doc, "main", source, false);
  if (auto it = doc.find("config"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) throw BundleError(source + ": \"config\" must be an array");
    std::set<std::string> keys;  // a set: a huge manifest must not cost quadratic time
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto& entry = (*it)[i];
      // Explanation text for the settings form ({"markdown": "..."}): nothing to configure.
      if (entry.is_object() && !entry.contains("key") && entry.contains("markdown")) continue;
      auto field = parse_field(entry, source + ": config[" + std::to_string(i) + "]");
      if (!keys.insert(field.key).second) {
        throw BundleError(source + ": config key \"" + field.key + "\" is declared twice");
      }
      m.config.push_back(std::move(field));
    }
  }
  if (auto it = doc.find("publicJobs"); it != doc.end() && !it->is_null()) {
    if (it->is_object()) {
      for (const auto& [name, job] : it->items()) {
        m.public_jobs.push_back(name);
        if (job.is_object() && job.contains("payload")) m.public_job_payloads[name] = job["payload"];
      }
    } else if (it->is_array()) {
      for (const auto& name : *it) {
        if (!name.is_string()) throw BundleError(source + ": \"publicJobs\" must name jobs as strings");
        m.public_jobs.push_back(name.get<std::string>());
      }
    } else {
      throw BundleError(source + ": \"publicJobs\" must be an object or an array");
    }
  }
  return m;
}

}  // namespace ps::runtime
