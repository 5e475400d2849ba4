#include "runtime/app_config.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace ps::runtime {

namespace {

std::string content_type_of(const std::string& name) {
  auto ext = std::filesystem::path(name).extension().string();
  if (ext == ".json") return "application/json";
  if (ext == ".csv") return "text/csv";
  if (ext == ".txt") return "text/plain";
  return "application/octet-stream";
}

// An attachment value names a file inside the bundle (or an absolute path).
std::optional<nlohmann::json> read_attachment(const Bundle& bundle, const std::string& name, AttachmentFiles files,
                                              std::string* problem) {
  std::string contents;
  if (auto it = bundle.files.find(name); it != bundle.files.end()) {
    contents = it->second;
  } else if (files == AttachmentFiles::bundle_or_absolute_path && std::filesystem::path(name).is_absolute() &&
             std::filesystem::is_regular_file(name)) {
    std::ifstream in(name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    contents = text.str();
  } else {
    *problem = "no file \"" + name + "\" in the bundle";
    return std::nullopt;
  }
  return nlohmann::json{{"file_name", std::filesystem::path(name).filename().string()},
                        {"content_type", content_type_of(name)},
                        {"contents", contents}};
}

}  // namespace

ResolvedConfig resolve_app_config(const Bundle& bundle, const nlohmann::json& values, AttachmentFiles files) {
  ResolvedConfig out;
  const auto& fields = bundle.manifest.config;
  for (const auto& [key, value] : values.items()) {
    if (bundle.manifest.field(key)) continue;
    // The daemon's own settings of exportEvents may be given to any app,
    // declared or not (published exporters declare them; not all do).
    if (key == "exportEventsBufferBytes" || key == "exportEventsBufferSeconds" || key == "exportEventsToIgnore") {
      out.config[key] = value;
      continue;
    }
    out.problems.push_back("config." + key + ": not declared in plugin.json");
  }
  // What another field holds, as the settings form would show it: the
  // value given, else its default.
  auto holds = [&](const std::string& key) -> std::optional<nlohmann::json> {
    if (auto it = values.find(key); it != values.end() && !it->is_null()) return *it;
    if (const auto* other = bundle.manifest.field(key); other && !other->default_value.is_null()) return other->default_value;
    return std::nullopt;
  };
  auto required = [&](const ConfigField& field) {
    if (field.required) return true;
    for (const auto& [key, value] : field.required_if) {
      auto held = holds(key);
      if (!held) continue;
      if (!value) {
        if (!(held->is_string() && held->get<std::string>().empty())) return true;
      } else if (held->is_string() ? held->get<std::string>() == *value : held->dump() == *value) {
        return true;
      }
    }
    return false;
  };
  for (const auto& field : fields) {
    std::string name = "config." + field.key;
    auto it = values.find(field.key);
    bool given = it != values.end() && !it->is_null();
    if (!given) {
      if (!field.default_value.is_null()) out.config[field.key] = field.default_value;
      else if (required(field)) out.problems.push_back(name + ": required, and not set");
      continue;
    }
    const auto& value = *it;
    if (field.type == "string" && !value.is_string()) {
      out.problems.push_back(name + ": must be a string");
    } else if (field.type == "choice" &&
               (!value.is_string() ||
                std::find(field.choices.begin(), field.choices.end(), value.get<std::string>()) == field.choices.end())) {
      std::string list;
      for (const auto& c : field.choices) list += (list.empty() ? "" : ", ") + c;
      out.problems.push_back(name + ": must be one of " + list);
    } else if (field.type == "attachment") {
      std::string problem;
      if (!value.is_string()) {
        out.problems.push_back(name + ": must name a file");
      } else if (auto attachment = read_attachment(bundle, value.get<std::string>(), files, &problem)) {
        out.attachments[field.key] = *attachment;
      } else {
        out.problems.push_back(name + ": " + problem);
      }
    } else {
      out.config[field.key] = value;
    }
  }
  return out;
}

}  // namespace ps::runtime
