#pragma once
// Checks an instance's config values against the app's plugin.json schema and
// fills in defaults; reads attachment files for `attachment` fields.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/bundle.h"

namespace ps::runtime {

struct ResolvedConfig {
  nlohmann::json config = nlohmann::json::object();       // meta.config
  nlohmann::json attachments = nlohmann::json::object();  // meta.attachments
  std::vector<std::string> problems;                      // empty when usable
};

ResolvedConfig resolve_app_config(const Bundle& bundle, const nlohmann::json& values);

}  // namespace ps::runtime
