#pragma once
// The table of every scalar config key: where it lives in Config, its type and
// what values it accepts. The file parser, the env overrides, validation and
// print-config all walk this one table.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace ps::config {

struct KeySpec {
  std::string_view section;
  std::string_view name;
  // Exactly one of these is set. A list is a TOML array of strings, or a
  // comma-separated environment variable.
  std::string& (*text)(Config&) = nullptr;
  int& (*integer)(Config&) = nullptr;
  std::vector<std::string>& (*list)(Config&) = nullptr;
  long long min = 0, max = 0;                   // integers
  std::vector<std::string_view> choices = {};   // text; empty = any
  // Further checks on text values (each item of a list): why the value is
  // wrong, or nullopt.
  std::optional<std::string> (*check)(const std::string&) = nullptr;
  std::string (*redact)(const std::string&) = nullptr;  // hides a URL's password when printing
  bool secret = false;      // redact the whole value when printing

  std::string dotted() const { return std::string(section) + "." + std::string(name); }
  std::string env_name() const;  // PLUGIN_SERVER_<SECTION>_<KEY>
};

const std::vector<KeySpec>& key_specs();
const KeySpec* find_key(std::string_view section, std::string_view name);

// Established environment names that predate PLUGIN_SERVER_*; the value is
// multiplied by `scale` (TASK_TIMEOUT is in seconds, the key in milliseconds).
struct EnvAlias {
  std::string_view env;
  std::string_view section;
  std::string_view name;
  long long scale = 1;
};
const std::vector<EnvAlias>& env_aliases();

// "host:port" -> (host, port), or why not.
struct HostPort {
  std::string host;
  int port = 0;
};
std::optional<HostPort> parse_host_port(const std::string& text, std::string* problem);

}  // namespace ps::config
