// The host functions behind the `posthog` global: capture (an event into the
// input topic, for the instance's own team) and api (requests to the
// analytics API with keys the app never sees).

#include <strings.h>

#include <cctype>

#include "json/edit.h"
#include "runtime/sandbox_impl.h"

namespace ps::runtime {

namespace {

// application/x-www-form-urlencoded, as URLSearchParams writes it.
std::string form_encoded(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '*' || c == '-' || c == '.' || c == '_') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string without_trailing_slashes(std::string text) {
  while (!text.empty() && text.back() == '/') text.pop_back();
  return text;
}

// Whether `path` (no leading slash, before any query) stays inside the
// team's own project: api/projects/<team> or below it.
bool inside_own_project(std::string_view path, long long team_id) {
  path = path.substr(0, path.find('?'));
  auto own = "api/projects/" + std::to_string(team_id);
  if (path.substr(0, own.size()) != own) return false;
  return path.size() == own.size() || path[own.size()] == '/';
}

}  // namespace

void Sandbox::Impl::settle_capture(Impl& impl, Local<v8::Promise::Resolver> resolver,
                                   std::optional<std::string>& error) {
  if (error) {
    impl.reject(resolver, v8::Exception::Error(js::message(impl.isolate, "posthog.capture: " + *error)));
  } else {
    impl.resolve(resolver, v8::Undefined(impl.isolate));
  }
}

void Sandbox::Impl::host_capture_event(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  auto* isolate = impl.isolate;
  auto data = string_arg(info, 0, "posthog.capture: the event's JSON");
  if (!data) return;
  auto distinct_id = string_arg(info, 1, "posthog.capture: the distinct_id");
  if (!distinct_id) return;
  auto timestamp = string_arg(info, 2, "posthog.capture: the timestamp");
  if (!timestamp) return;
  auto uuid = string_arg(info, 3, "posthog.capture: the uuid");
  if (!uuid) return;
  auto resolver = begin_op(info, impl.opt.host.capture, v8::Exception::Error,
                           "posthog.capture: the daemon has no broker to send events to");
  if (resolver.IsEmpty()) return;
  int hops = CaptureHopsScope::current(impl.ctx()) + 1;
  if (hops > impl.opt.max_capture_hops) {
    return impl.refuse_for_quota(resolver, "capture_hops",
                                 "posthog.capture: dropped: the event would be capture number " + std::to_string(hops) +
                                     " in a row (an app capturing from events that apps captured), over the limit of " +
                                     std::to_string(impl.opt.max_capture_hops) + " (posthog.max_capture_hops)");
  }
  if (!impl.capture_rate.take()) {
    return impl.refuse_for_quota(resolver, "capture_rate",
                                 "posthog.capture: too many events: over " +
                                     std::to_string(static_cast<long>(impl.opt.max_captures_per_second)) +
                                     " a second for this app (posthog.max_captures_per_second)");
  }
  if (data->size() > impl.opt.max_capture_bytes) {
    return impl.refuse_for_quota(resolver, "capture_bytes",
                                 "posthog.capture: the event is " + std::to_string(data->size()) +
                                     " bytes, over the limit of " + std::to_string(impl.opt.max_capture_bytes) +
                                     " (kafka.max_message_bytes)");
  }
  // The team is set here, over anything the event says: an app captures
  // for its own team only.
  std::string error;
  auto fields = json::scan_top_level(*data, {impl.opt.max_event_depth, true}, &error);
  if (!fields || !fields->is_object) {
    impl.reject(resolver, v8::Exception::TypeError(js::message(
                              isolate, "posthog.capture: the event is not a JSON object" + (error.empty() ? "" : ": " + error))));
    return;
  }
  auto team = std::to_string(impl.opt.team_id);
  auto team_field = json::scan_top_level("{\"team_id\":" + team + "}", {1, true});
  auto event_json = json::merge_members(*fields, "team_id", *team_field);
  CapturedEvent event;
  event.team_id = impl.opt.team_id;
  event.key = *distinct_id;
  event.hops = hops;
  // The shape the reference's capture produced, so every consumer of the
  // input topic reads it: an envelope with the event as JSON text.
  event.message = "{\"distinct_id\":" + json::quote(*distinct_id) + ",\"ip\":\"\",\"site_url\":\"\",\"data\":" +
                  json::quote(event_json) + ",\"team_id\":" + team + ",\"now\":" + json::quote(*timestamp) +
                  ",\"sent_at\":" + json::quote(*timestamp) + ",\"uuid\":" + json::quote(*uuid) + "}";
  auto done = impl.completion<std::optional<std::string>>(impl.add_op(resolver), &Impl::settle_capture);
  impl.opt.host.capture->capture(std::move(event), std::move(done));
}

void Sandbox::Impl::host_posthog_api(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  auto* isolate = impl.isolate;
  const auto& access = impl.opt.posthog_api;
  auto method = string_arg(info, 0, "posthog.api: the method");
  if (!method) return;
  auto path = string_arg(info, 1, "posthog.api: the path");
  if (!path) return;
  auto optional_text = [&](int i) { return info[i]->IsString() ? js::utf8(isolate, info[i]) : std::nullopt; };
  auto query = optional_text(2);
  auto body = optional_text(3);
  auto host = optional_text(4);
  auto personal_key = optional_text(5);
  auto project_key = optional_text(6);
  FetchRequest request;
  request.method = *method;
  if (!header_pairs(info, 7, request.headers, "posthog.api")) return;
  auto resolver = begin_op(info, impl.opt.host.api_http, v8::Exception::TypeError, "posthog.api is not available here");
  if (resolver.IsEmpty()) return;
  auto refuse = [&](const std::string& why) {
    impl.reject(resolver, v8::Exception::Error(js::message(isolate, "posthog.api: " + why)));
  };
  auto base = without_trailing_slashes(host ? *host : access.url);
  if (base.empty()) return refuse("posthog.api_url is not set, and the call names no host");
  // The configured keys go to the configured API only; a call to another
  // host carries the keys the app passed, or none.
  bool own_api = base == without_trailing_slashes(access.url);
  bool daemon_key = !personal_key && own_api && !access.personal_api_key.empty();
  if (!personal_key && own_api) personal_key = access.personal_api_key;
  if (!project_key && own_api) project_key = access.project_api_key;
  auto relative = std::string_view(*path);
  while (!relative.empty() && relative.front() == '/') relative.remove_prefix(1);
  std::string resolved(relative);
  // As the reference: the first @current is the team's project.
  if (auto at = resolved.find("@current"); at != std::string::npos) resolved.replace(at, 8, std::to_string(impl.opt.team_id));
  if (daemon_key && access.shared_key && !inside_own_project(resolved, impl.opt.team_id)) {
    return refuse("with the daemon's shared key an app reaches only its own project (api/projects/@current/...), not /" +
                  resolved + "; a key configured for the team in [[apps]] (posthog_personal_api_key) lifts this");
  }
  std::string params = query ? *query : "";
  if (project_key && !project_key->empty()) params += (params.empty() ? "" : "&") + ("token=" + form_encoded(*project_key));
  request.url = base + "/" + resolved;
  if (!params.empty()) request.url += (resolved.find('?') == std::string::npos ? "?" : "&") + params;
  bool app_authorizes = false;
  for (const auto& [name, value] : request.headers) app_authorizes |= strcasecmp(name.c_str(), "authorization") == 0;
  if (!app_authorizes && personal_key && !personal_key->empty()) {
    request.headers.emplace_back("Authorization", "Bearer " + *personal_key);
  }
  if (body) {
    request.body = std::move(*body);
    request.headers.emplace_back("Content-Type", "application/json");
  }
  if (!impl.take_fetch_slot(resolver, "posthog.api")) return;
  auto id = impl.add_op(resolver);
  impl.opt.host.api_http->fetch(std::move(request), impl.completion<FetchResult>(id, &Impl::settle_fetch));
}

}  // namespace ps::runtime
