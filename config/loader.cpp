// Reads the TOML file and the environment into a Config, collecting every
// problem instead of stopping at the first, so an operator fixes them in one go.

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <sstream>

#include <toml++/toml.h>

#include "config/config.h"
#include "config/keys.h"

extern char** environ;

namespace ps::config {

namespace {

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

std::string where(const toml::node& node, const std::filesystem::path& file) {
  const auto& src = node.source();
  return "(" + file.filename().string() + " line " + std::to_string(src.begin.line) + ")";
}

const char* toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    default: return "a date or time";
  }
}

nlohmann::json toml_to_json(const toml::node& node) {
  if (auto* t = node.as_table()) {
    auto out = nlohmann::json::object();
    for (const auto& [k, v] : *t) out[std::string(k.str())] = toml_to_json(v);
    return out;
  }
  if (auto* a = node.as_array()) {
    auto out = nlohmann::json::array();
    for (const auto& v : *a) out.push_back(toml_to_json(v));
    return out;
  }
  if (auto v = node.value<std::string>(); v && node.is_string()) return *v;
  if (node.is_integer()) return *node.value<long long>();
  if (node.is_floating_point()) return *node.value<double>();
  if (node.is_boolean()) return *node.value<bool>();
  // Dates and times have no JSON type: keep their TOML text.
  return node.visit([](const auto& value) {
    std::ostringstream text;
    text << value;
    return text.str();
  });
}

class Loader {
 public:
  Config config;
  std::vector<std::string> problems;

  void read_file(const std::filesystem::path& file) {
    config.file = std::filesystem::absolute(file);
    toml::table root;
    try {
      root = toml::parse_file(file.string());
    } catch (const toml::parse_error& e) {
      const auto& src = e.source();
      problems.push_back(file.string() + ":" + std::to_string(src.begin.line) + ":" +
                         std::to_string(src.begin.column) + ": not valid TOML: " +
                         std::string(e.description()));
      return;
    }
    for (const auto& [section_key, node] : root) {
      std::string section(section_key.str());
      if (section == "apps") {
        read_apps(node, file);
        continue;
      }
      auto* table = node.as_table();
      if (!table) {
        problems.push_back(section + ": unknown key " + where(node, file));
        continue;
      }
      for (const auto& [key, value] : *table) {
        read_scalar(section, std::string(key.str()), value, file);
      }
    }
  }

  void read_env(const Environment& env) {
    // Established names first, so that PLUGIN_SERVER_* names win over them.
    for (const auto& alias : env_aliases()) {
      auto it = env.find(std::string(alias.env));
      if (it == env.end()) continue;
      const KeySpec& spec = *find_key(alias.section, alias.name);
      apply_env_value(spec, it->first, it->second, alias.scale);
    }
    for (const auto& [name, value] : env) {
      if (name.rfind("PLUGIN_SERVER_", 0) != 0 || name == "PLUGIN_SERVER_CONFIG") continue;
      const KeySpec* match = nullptr;
      for (const auto& spec : key_specs()) {
        if (spec.env_name() == name) match = &spec;
      }
      if (!match) {
        problems.push_back(name + ": unknown setting (environment variable)");
        continue;
      }
      apply_env_value(*match, name, value, 1);
    }
  }

  void validate() {
    for (const auto& spec : key_specs()) {
      auto origin = origins_.count(spec.dotted()) ? " " + origins_[spec.dotted()] : std::string();
      if (spec.integer) {
        long long v = spec.integer(config);
        if (v < spec.min || v > spec.max) {
          problems.push_back(spec.dotted() + ": must be from " + std::to_string(spec.min) + " to " +
                             std::to_string(spec.max) + ", got " + std::to_string(v) + origin);
        }
        continue;
      }
      if (spec.list) {
        for (const auto& item : spec.list(config)) {
          if (auto problem = spec.check ? spec.check(item) : std::nullopt) {
            problems.push_back(spec.dotted() + ": " + *problem + origin);
          }
        }
        continue;
      }
      const std::string& v = spec.text(config);
      if (!spec.choices.empty()) {
        bool ok = false;
        std::string list;
        for (auto choice : spec.choices) {
          ok = ok || v == choice;
          list += (list.empty() ? "" : ", ") + std::string(choice);
        }
        if (!ok) problems.push_back(spec.dotted() + ": must be one of " + list + ", got \"" + v + "\"" + origin);
      }
      if (spec.check) {
        if (auto problem = spec.check(v)) problems.push_back(spec.dotted() + ": " + *problem + origin);
      }
    }
    // One app once per team: two entries would share one instance (storage, jobs).
    std::map<std::pair<std::string, long long>, std::size_t> installed;
    for (std::size_t i = 0; i < config.apps.size(); ++i) {
      for (auto team : config.apps[i].teams) {
        auto [it, fresh] = installed.try_emplace({config.apps[i].path, team}, i);
        if (!fresh) {
          problems.push_back("apps[" + std::to_string(i) + "]: " + config.apps[i].path +
                             " is already installed for team " + std::to_string(team) + " by apps[" +
                             std::to_string(it->second) + "]");
        }
      }
    }
    if (config.kafka.sample_events_per_second > 0 && config.kafka.brokers != "embedded") {
      problems.push_back("kafka.sample_events_per_second: only allowed with kafka.brokers = \"embedded\"");
    }
    std::string ignored;
    if (auto hp = parse_host_port(config.http.listen, &ignored)) {
      config.http.host = hp->host;
      config.http.port = hp->port;
    }
  }

 private:
  std::map<std::string, std::string> origins_;

  void read_scalar(const std::string& section, const std::string& key, const toml::node& value,
                   const std::filesystem::path& file) {
    const KeySpec* spec = find_key(section, key);
    if (!spec) {
      problems.push_back(section + "." + key + ": unknown key " + where(value, file));
      return;
    }
    origins_[spec->dotted()] = where(value, file);
    if (spec->integer) {
      auto v = value.value_exact<long long>();
      if (!v) {
        problems.push_back(spec->dotted() + ": expected an integer, got " + toml_type_name(value) + " " +
                           where(value, file));
      } else if (*v < spec->min || *v > spec->max) {
        problems.push_back(spec->dotted() + ": must be from " + std::to_string(spec->min) + " to " +
                           std::to_string(spec->max) + ", got " + std::to_string(*v) + " " + where(value, file));
      } else {
        spec->integer(config) = static_cast<int>(*v);
      }
      return;
    }
    if (spec->list) {
      auto* items = value.as_array();
      auto& out = spec->list(config);
      out.clear();
      for (std::size_t i = 0; items && i < items->size(); ++i) {
        auto item = (*items)[i].value_exact<std::string>();
        if (!item) {
          items = nullptr;
          break;
        }
        out.push_back(*item);
      }
      if (!items) {
        problems.push_back(spec->dotted() + ": expected an array of strings, got " + toml_type_name(value) + " " +
                           where(value, file));
      }
      return;
    }
    auto v = value.value_exact<std::string>();
    if (!v) {
      problems.push_back(spec->dotted() + ": expected a string, got " + toml_type_name(value) + " " +
                         where(value, file));
      return;
    }
    spec->text(config) = *v;
  }

  void apply_env_value(const KeySpec& spec, const std::string& env_name, const std::string& value,
                       long long scale) {
    origins_[spec.dotted()] = "(environment variable " + env_name + ")";
    if (spec.list) {
      // Comma-separated; spaces around an item are not part of it.
      auto& out = spec.list(config);
      out.clear();
      std::size_t start = 0;
      while (start <= value.size()) {
        auto end = std::min(value.find(',', start), value.size());
        auto item = value.substr(start, end - start);
        auto first = item.find_first_not_of(" \t"), last = item.find_last_not_of(" \t");
        if (first != std::string::npos) out.push_back(item.substr(first, last - first + 1));
        start = end + 1;
      }
      return;
    }
    if (spec.text) {
      spec.text(config) = value;
      return;
    }
    long long parsed = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
      problems.push_back(spec.dotted() + ": expected an integer, got \"" + value + "\" (environment variable " +
                         env_name + ")");
      return;
    }
    long long scaled = parsed * scale;
    if (parsed < 0 || scaled / scale != parsed || scaled < spec.min || scaled > spec.max) {
      problems.push_back(spec.dotted() + ": must be from " + std::to_string(spec.min) + " to " +
                         std::to_string(spec.max) + (scale == 1 ? "" : " (after scaling by " + std::to_string(scale) + ")") +
                         ", got " + value + " (environment variable " + env_name + ")");
      return;
    }
    spec.integer(config) = static_cast<int>(scaled);
  }

  void read_apps(const toml::node& node, const std::filesystem::path& file) {
    auto* list = node.as_array();
    if (!list) {
      problems.push_back("apps: expected an array of tables ([[apps]]) " + where(node, file));
      return;
    }
    auto base = std::filesystem::absolute(file).parent_path();
    for (std::size_t i = 0; i < list->size(); ++i) {
      std::string name = "apps[" + std::to_string(i) + "]";
      auto* table = (*list)[i].as_table();
      if (!table) {
        problems.push_back(name + ": expected a table " + where((*list)[i], file));
        continue;
      }
      config.apps.push_back(read_app(*table, name, base, file));
    }
  }

  AppConfig read_app(const toml::table& table, const std::string& name, const std::filesystem::path& base,
                     const std::filesystem::path& file) {
    AppConfig app;
    bool has_path = false, has_teams = false;
    for (const auto& [key_node, value] : table) {
      std::string key(key_node.str());
      std::string label = name + "." + key;
      if (key == "path") {
        has_path = true;
        auto v = value.value_exact<std::string>();
        if (!v || v->empty()) {
          problems.push_back(label + ": expected a non-empty string " + where(value, file));
          continue;
        }
        std::filesystem::path p(*v);
        app.path = (p.is_absolute() ? p : base / p).lexically_normal().string();
        if (!std::filesystem::exists(app.path)) {
          problems.push_back(label + ": no app bundle at " + app.path + " " + where(value, file));
        }
      } else if (key == "teams") {
        has_teams = true;
        auto* teams = value.as_array();
        if (!teams || teams->empty()) {
          problems.push_back(label + ": expected a non-empty array of team ids " + where(value, file));
          continue;
        }
        for (const auto& team : *teams) {
          auto id = team.value_exact<long long>();
          if (!id || *id <= 0) {
            problems.push_back(label + ": team ids must be positive integers, got " + toml_to_json(team).dump() + " " +
                               where(team, file));
            continue;
          }
          app.teams.push_back(*id);
        }
      } else if (key == "order") {
        auto v = value.value_exact<long long>();
        if (!v || *v < -1000000 || *v > 1000000) {
          problems.push_back(label + ": expected an integer from -1000000 to 1000000 " + where(value, file));
          continue;
        }
        app.order = static_cast<int>(*v);
      } else if (key == "config") {
        if (!value.is_table()) {
          problems.push_back(label + ": expected a table " + where(value, file));
          continue;
        }
        app.config = toml_to_json(value);
      } else if (key == "posthog_personal_api_key" || key == "posthog_project_api_key") {
        auto v = value.value_exact<std::string>();
        if (!v || v->empty()) {
          problems.push_back(label + ": expected a non-empty string " + where(value, file));
          continue;
        }
        (key == "posthog_personal_api_key" ? app.posthog_personal_api_key : app.posthog_project_api_key) = *v;
      } else {
        problems.push_back(label + ": unknown key (expected path, teams, order, config, posthog_personal_api_key, "
                           "posthog_project_api_key) " + where(value, file));
      }
    }
    if (!has_path) problems.push_back(name + ".path: missing " + where(table, file));
    if (!has_teams) problems.push_back(name + ".teams: missing " + where(table, file));
    return app;
  }
};

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(join_lines(problems)), problems_(std::move(problems)) {}

Environment process_environment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

Config load(const std::optional<std::filesystem::path>& file, const Environment& env) {
  Loader loader;
  if (file) {
    if (!std::filesystem::exists(*file)) {
      throw ConfigError({file->string() + ": config file not found"});
    }
    loader.read_file(*file);
  }
  loader.read_env(env);
  loader.validate();
  if (!loader.problems.empty()) throw ConfigError(std::move(loader.problems));
  return std::move(loader.config);
}

}  // namespace ps::config
