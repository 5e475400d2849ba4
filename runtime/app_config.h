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

// Where an attachment's file may come from: the bundle, or also an
// absolute path on this machine (config-file apps: the operator's own).
enum class AttachmentFiles { bundle_only, bundle_or_absolute_path };

ResolvedConfig resolve_app_config(const Bundle& bundle, const nlohmann::json& values,
                                  AttachmentFiles files = AttachmentFiles::bundle_or_absolute_path);

}  // namespace ps::runtime
