// print-config: the effective configuration as TOML, secrets redacted.

#include <sstream>

#include <toml++/toml.h>

#include "config/config.h"
#include "config/keys.h"

namespace ps::config {

namespace {

constexpr const char* kRedacted = "***";

toml::table json_object_to_toml(const nlohmann::json& object);

void insert_json(toml::table& table, const std::string& key, const nlohmann::json& value);

toml::array json_array_to_toml(const nlohmann::json& array) {
  toml::array out;
  for (const auto& item : array) {
    toml::table holder;
    insert_json(holder, "v", item);
    if (auto* node = holder.get("v")) out.push_back(*node);
  }
  return out;
}

void insert_json(toml::table& table, const std::string& key, const nlohmann::json& value) {
  if (value.is_object()) table.insert(key, json_object_to_toml(value));
  else if (value.is_array()) table.insert(key, json_array_to_toml(value));
  else if (value.is_string()) table.insert(key, value.get<std::string>());
  else if (value.is_boolean()) table.insert(key, value.get<bool>());
  else if (value.is_number_integer()) table.insert(key, value.get<long long>());
  else if (value.is_number()) table.insert(key, value.get<double>());
  // TOML has no null: a null value is left out.
}

toml::table json_object_to_toml(const nlohmann::json& object) {
  toml::table out;
  for (const auto& [k, v] : object.items()) insert_json(out, k, v);
  return out;
}

}  // namespace

std::string render_toml(const Config& config, SecretFieldPredicate is_secret) {
  Config copy = config;
  toml::table root;
  for (const auto& spec : key_specs()) {
    auto* section = root.insert(std::string(spec.section), toml::table{}).first->second.as_table();
    if (spec.integer) {
      section->insert(std::string(spec.name), static_cast<long long>(spec.integer(copy)));
    } else if (spec.list) {
      toml::array items;
      for (const auto& item : spec.list(copy)) items.push_back(item);
      section->insert(std::string(spec.name), std::move(items));
    } else {
      const std::string& v = spec.text(copy);
      section->insert(std::string(spec.name), spec.redact ? spec.redact(v)
                                              : spec.secret && !v.empty() ? std::string(kRedacted)
                                                                          : v);
    }
  }
  toml::array apps;
  for (const auto& app : config.apps) {
    toml::table entry;
    entry.insert("path", app.path);
    toml::array teams;
    for (auto team : app.teams) teams.push_back(team);
    entry.insert("teams", teams);
    entry.insert("order", static_cast<long long>(app.order));
    auto values = app.config;
    for (auto& [key, value] : values.items()) {
      if (is_secret && is_secret(app, key)) value = kRedacted;
    }
    entry.insert("config", json_object_to_toml(values));
    if (!app.posthog_personal_api_key.empty()) entry.insert("posthog_personal_api_key", std::string(kRedacted));
    if (!app.posthog_project_api_key.empty()) entry.insert("posthog_project_api_key", std::string(kRedacted));
    apps.push_back(std::move(entry));
  }
  if (!apps.empty()) root.insert("apps", std::move(apps));
  std::ostringstream out;
  out << root << "\n";
  return out.str();
}

}  // namespace ps::config
