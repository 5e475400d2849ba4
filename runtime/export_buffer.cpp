#include "runtime/export_buffer.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

namespace ps::runtime {

namespace {

// A config value as the reference's parseInt read it: a number, or text
// starting with digits; nullopt otherwise.
std::optional<long long> leading_integer(const nlohmann::json& value) {
  if (value.is_number_integer()) return value.get<long long>();
  if (value.is_number()) return static_cast<long long>(value.get<double>());
  if (!value.is_string()) return std::nullopt;
  auto text = value.get<std::string>();
  auto start = text.find_first_not_of(" \t\n\r");
  if (start == std::string::npos) return std::nullopt;
  long long n = 0;
  auto [end, error] = std::from_chars(text.data() + start, text.data() + text.size(), n);
  if (error != std::errc() || end == text.data() + start) return std::nullopt;
  return n;
}

std::string trimmed(std::string_view text) {
  auto first = text.find_first_not_of(" \t\n\r");
  if (first == std::string_view::npos) return "";
  auto last = text.find_last_not_of(" \t\n\r");
  return std::string(text.substr(first, last - first + 1));
}

}  // namespace

ExportSettings ExportSettings::from_config(const nlohmann::json& config) {
  ExportSettings s;
  if (!config.is_object()) return s;
  auto setting = [&](const char* key) { return config.contains(key) ? leading_integer(config[key]) : std::nullopt; };
  constexpr long long kMaxBytes = 100ll << 20;
  if (auto bytes = setting("exportEventsBufferBytes"); bytes && *bytes > 0) {
    s.max_bytes = static_cast<std::size_t>(std::clamp(*bytes, 1ll, kMaxBytes));
  }
  if (auto seconds = setting("exportEventsBufferSeconds"); seconds && *seconds > 0) {
    s.max_age = std::chrono::seconds(std::clamp(*seconds, 1ll, 600ll));
  }
  if (auto it = config.find("exportEventsToIgnore"); it != config.end() && it->is_string()) {
    std::string_view list = it->get_ref<const std::string&>();
    while (!list.empty()) {
      auto comma = list.find(',');
      auto name = trimmed(list.substr(0, comma));
      if (!name.empty()) s.ignored.insert(std::move(name));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
  }
  return s;
}

std::string ExportBatch::payload() const {
  std::string out = "[";
  out.reserve(bytes() + events.size() + 2);
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i) out += ',';
    out += events[i];
  }
  out += ']';
  return out;
}

std::size_t ExportBatch::bytes() const {
  std::size_t total = 0;
  for (const auto& e : events) total += e.size();
  return total;
}

void ExportBuffer::add(std::string event_json, std::function<void()> durable, Clock::time_point now) {
  if (batch_.events.empty()) batch_.first_added = now;
  bytes_ += event_json.size();
  batch_.events.push_back(std::move(event_json));
  batch_.durable.push_back(std::move(durable));
}

ExportBatch ExportBuffer::take() {
  ExportBatch out = std::move(batch_);
  batch_ = ExportBatch{};
  bytes_ = 0;
  return out;
}

}  // namespace ps::runtime
