// The host functions behind console, fetch, storage and jobs: each gives JS
// a promise at once, starts the work on a host service, and settles the
// promise on the isolate's own thread when the work is done. Their arguments
// come from the prelude, but the prelude runs beside app code that may have
// patched what it uses: every argument is checked, none is converted, and
// an empty Maybe ends the call with its exception (see js_safe.h).

#include <cmath>

#include "runtime/executor.h"
#include "runtime/module_graph.h"
#include "runtime/sandbox_impl.h"

namespace ps::runtime {

namespace {

// The latest time a job may be scheduled for: the end of the year 9999,
// inside Postgres' timestamptz and the queue's millisecond times.
constexpr double kLatestRunAtMs = 253402300799000.0;

}  // namespace

std::optional<std::string> Sandbox::Impl::string_arg(const v8::FunctionCallbackInfo<v8::Value>& info, int i,
                                                     const char* what) {
  auto text = js::utf8(info.GetIsolate(), info[i]);
  if (!text) js::throw_type_error(info.GetIsolate(), std::string(what) + " must be a string");
  return text;
}

bool Sandbox::Impl::header_pairs(const v8::FunctionCallbackInfo<v8::Value>& info, int i, HeaderList& headers,
                                 const char* who) {
  if (!info[i]->IsArray()) return true;
  auto* isolate = info.GetIsolate();
  auto ctx = isolate->GetCurrentContext();
  auto list = info[i].As<v8::Array>();
  for (uint32_t k = 0; k < list->Length(); ++k) {
    Local<v8::Value> pair, name, value;
    if (!list->Get(ctx, k).ToLocal(&pair)) return false;
    if (!pair->IsArray()) {
      js::throw_type_error(isolate, std::string(who) + ": each header must be a [name, value] pair");
      return false;
    }
    if (!pair.As<v8::Array>()->Get(ctx, 0).ToLocal(&name) || !pair.As<v8::Array>()->Get(ctx, 1).ToLocal(&value)) {
      return false;
    }
    auto name_text = js::utf8(isolate, name);
    auto value_text = js::utf8(isolate, value);
    if (!name_text || !value_text) {
      js::throw_type_error(isolate, std::string(who) + ": header names and values must be strings");
      return false;
    }
    headers.emplace_back(std::move(*name_text), std::move(*value_text));
  }
  return true;
}

Sandbox::Impl& Sandbox::Impl::from(const v8::FunctionCallbackInfo<v8::Value>& info) {
  return *static_cast<Impl*>(info.Data().As<v8::External>()->Value());
}

std::uint64_t Sandbox::Impl::add_op(Local<v8::Promise::Resolver> resolver) {
  auto id = next_op++;
  ops[id].Reset(isolate, resolver);
  return id;
}

template <class Result>
std::function<void(Result)> Sandbox::Impl::completion(std::uint64_t id,
                                                      void (*settle)(Impl&, Local<v8::Promise::Resolver>, Result&)) {
  std::weak_ptr<Sandbox> weak = self;
  Executor* executor = opt.executor;
  int thread = opt.thread;
  long long lane = opt.team_id;
  return [weak, executor, thread, lane, id, settle](Result result) {
    executor->post(thread, [weak, id, settle, result = std::move(result)]() mutable {
      auto sandbox = weak.lock();
      if (!sandbox) return;
      auto& impl = *sandbox->impl_;
      if (impl.broken) return;
      v8::Isolate::Scope isolate_scope(impl.isolate);
      v8::HandleScope scope(impl.isolate);
      v8::Context::Scope context_scope(impl.ctx());
      auto it = impl.ops.find(id);
      if (it == impl.ops.end()) return;
      auto resolver = it->second.Get(impl.isolate);
      impl.ops.erase(it);
      // Settling runs app code (reactions, thenables): under the limit.
      impl.enter([&] { settle(impl, resolver, result); });
    }, lane);
  };
}

void Sandbox::Impl::reject(Local<v8::Promise::Resolver> resolver, Local<v8::Value> error) {
  // Fails only when execution is being terminated: the call is failing anyway.
  resolver->Reject(ctx(), error).IsNothing();
}

void Sandbox::Impl::resolve(Local<v8::Promise::Resolver> resolver, Local<v8::Value> value) {
  // Fails only when execution is being terminated (a `then` getter of the
  // app's can run here): the call is failing anyway.
  resolver->Resolve(ctx(), value).IsNothing();
}

Local<v8::Promise::Resolver> Sandbox::Impl::begin_op(const v8::FunctionCallbackInfo<v8::Value>& info, bool available,
                                                     Local<v8::Value> (*error)(Local<v8::String>),
                                                     const char* unavailable) {
  auto& impl = from(info);
  Local<v8::Promise::Resolver> resolver;
  if (!v8::Promise::Resolver::New(impl.ctx()).ToLocal(&resolver)) return {};
  info.GetReturnValue().Set(resolver->GetPromise());
  if (available) return resolver;
  impl.reject(resolver, error(js::message(impl.isolate, unavailable)));
  return {};
}

void Sandbox::Impl::refuse_for_quota(Local<v8::Promise::Resolver> resolver, const char* quota,
                                     const std::string& message) {
  if (opt.refused) opt.refused(quota);
  reject(resolver, v8::Exception::RangeError(js::message(isolate, message)));
}

void Sandbox::Impl::host_log(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  if (!impl.opt.log) return;
  auto level = js::utf8(impl.isolate, info[0]);
  // Only the part that can be logged is copied out of the isolate.
  auto text = js::utf8_prefix(impl.isolate, info[1], impl.opt.max_log_line_bytes);
  if (!text) return impl.opt.log(level.value_or("log"), "(console output that is not text)");
  if (text->second > text->first.size()) {
    text->first += " ... (truncated, " + std::to_string(text->second) + " bytes)";
  }
  impl.opt.log(level.value_or("log"), text->first);
}

void Sandbox::Impl::host_fetch(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  auto* isolate = impl.isolate;
  FetchRequest request;
  auto url = string_arg(info, 0, "fetch: the URL");
  if (!url) return;
  auto method = string_arg(info, 1, "fetch: the method");
  if (!method) return;
  request.url = std::move(*url);
  request.method = std::move(*method);
  if (!header_pairs(info, 2, request.headers, "fetch")) return;
  if (info[3]->IsString()) request.body = *js::utf8(isolate, info[3]);
  double timeout = info[4]->IsNumber() ? info[4].As<v8::Number>()->Value() : 0;
  if (timeout > 0 && std::isfinite(timeout)) {
    request.timeout = std::chrono::milliseconds(static_cast<long long>(std::min(timeout, 1e12)));
  }
  auto resolver = begin_op(info, impl.opt.host.http, v8::Exception::TypeError, "fetch is not available here");
  if (resolver.IsEmpty() || !impl.take_fetch_slot(resolver, "fetch")) return;
  auto id = impl.add_op(resolver);
  impl.opt.host.http->fetch(std::move(request), impl.completion<FetchResult>(id, &Impl::settle_fetch));
}

bool Sandbox::Impl::take_fetch_slot(Local<v8::Promise::Resolver> resolver, const char* who) {
  if (fetches < opt.max_concurrent_fetches) {
    ++fetches;
    return true;
  }
  refuse_for_quota(resolver, "concurrent_fetches",
                   std::string(who) + ": too many requests at once: this app has " + std::to_string(fetches) +
                       " in flight, the most it may have (runtime.fetch_max_concurrent)");
  return false;
}

void Sandbox::Impl::settle_fetch(Impl& impl, Local<v8::Promise::Resolver> resolver, FetchResult& result) {
  --impl.fetches;
  auto* isolate = impl.isolate;
  auto ctx = impl.ctx();
  if (auto* error = std::get_if<std::string>(&result)) {
    impl.reject(resolver, v8::Exception::TypeError(js::message(isolate, "fetch failed: " + *error)));
    return;
  }
  auto& response = std::get<FetchResponse>(result);
  // Arrays made whole from their elements, objects without a prototype:
  // no setter or getter of the app's runs while the host builds them.
  std::vector<Local<v8::Value>> headers;
  for (const auto& [name, value] : response.headers) {
    Local<v8::Value> pair[] = {js::message(isolate, name), js::message(isolate, value)};
    headers.push_back(v8::Array::New(isolate, pair, 2));
  }
  Local<v8::String> body;
  if (!js::string(isolate, response.body).ToLocal(&body)) {
    impl.reject(resolver, v8::Exception::RangeError(js::message(isolate, "fetch failed: the body is too large for a string")));
    return;
  }
  auto raw = js::bare_object(isolate);
  bool built = js::define(ctx, raw, "status", v8::Integer::New(isolate, response.status)) &&
               js::define(ctx, raw, "statusText", js::message(isolate, response.status_text)) &&
               js::define(ctx, raw, "headers", v8::Array::New(isolate, headers.data(), headers.size())) &&
               js::define(ctx, raw, "body", body) && js::define(ctx, raw, "url", js::message(isolate, response.url));
  if (built) impl.resolve(resolver, raw);
}

void Sandbox::Impl::settle_storage(Impl& impl, Local<v8::Promise::Resolver> resolver, StorageResult& result) {
  --impl.storage_calls;
  auto* isolate = impl.isolate;
  Local<v8::String> value;
  if (result.refused) {
    impl.refuse_for_quota(resolver, "storage_total_bytes", *result.refused);
  } else if (result.error) {
    impl.reject(resolver, v8::Exception::Error(js::message(isolate, "storage: " + *result.error)));
  } else if (!result.value) {
    impl.resolve(resolver, v8::Undefined(isolate));
  } else if (js::string(isolate, *result.value).ToLocal(&value)) {
    impl.resolve(resolver, value);
  } else {
    impl.reject(resolver, v8::Exception::RangeError(js::message(isolate, "storage: the value is too large for a string")));
  }
}

template <Sandbox::Impl::StorageOp Op>
void Sandbox::Impl::host_storage(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  auto key = string_arg(info, 0, "storage: the key");
  if (!key) return;
  std::optional<std::string> value;
  if constexpr (Op == StorageOp::Set) {
    value = string_arg(info, 1, "storage: the value's JSON");
    if (!value) return;
  }
  auto resolver = begin_op(info, impl.opt.host.storage, v8::Exception::Error, "storage is not available here");
  if (resolver.IsEmpty()) return;
  if (value && value->size() > impl.opt.max_storage_value_bytes) {
    return impl.refuse_for_quota(resolver, "storage_value_bytes",
                                 "storage.set: the value is " + std::to_string(value->size()) +
                                     " bytes as JSON, over the limit of " +
                                     std::to_string(impl.opt.max_storage_value_bytes) + " (runtime.storage_max_value_bytes)");
  }
  // Storage calls share a few database threads with every other app: one
  // app may not queue without bound in front of them.
  if (impl.storage_calls >= impl.opt.max_pending_storage_calls) {
    return impl.refuse_for_quota(resolver, "pending_storage_calls",
                                 "storage: too many calls at once: this app has " + std::to_string(impl.storage_calls) +
                                     " waiting, the most it may have (runtime.storage_max_pending)");
  }
  ++impl.storage_calls;
  auto done = impl.completion<StorageResult>(impl.add_op(resolver), &Impl::settle_storage);
  auto* storage = impl.opt.host.storage;
  if constexpr (Op == StorageOp::Get) storage->get(impl.opt.instance_id, std::move(*key), std::move(done));
  if constexpr (Op == StorageOp::Set) storage->set(impl.opt.instance_id, std::move(*key), std::move(*value), std::move(done));
  if constexpr (Op == StorageOp::Del) storage->del(impl.opt.instance_id, std::move(*key), std::move(done));
}

void Sandbox::Impl::settle_enqueue(Impl& impl, Local<v8::Promise::Resolver> resolver,
                                   std::optional<std::string>& error) {
  if (error) {
    impl.reject(resolver, v8::Exception::Error(js::message(impl.isolate, "the job could not be enqueued: " + *error)));
  } else {
    impl.resolve(resolver, v8::Undefined(impl.isolate));
  }
}

void Sandbox::Impl::host_enqueue_job(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  auto* isolate = impl.isolate;
  auto name = string_arg(info, 0, "the job name");
  if (!name) return;
  JobRequest job;
  job.instance = impl.opt.instance_id;
  job.app = impl.opt.bundle->manifest.name;
  job.name = std::move(*name);
  if (info[1]->IsString()) job.payload_json = js::utf8(isolate, info[1]);
  if (!info[2]->IsNumber()) return js::throw_type_error(isolate, "the job's time must be a number");
  double at_ms = info[2].As<v8::Number>()->Value();
  auto resolver = begin_op(info, impl.opt.host.jobs, v8::Exception::Error, "jobs are not available here");
  if (resolver.IsEmpty()) return;
  if (job.payload_json && job.payload_json->size() > impl.opt.max_job_payload_bytes) {
    impl.reject(resolver, v8::Exception::RangeError(js::message(
                              isolate, "the job payload is " + std::to_string(job.payload_json->size()) +
                                           " bytes, over the limit of " + std::to_string(impl.opt.max_job_payload_bytes) +
                                           " bytes")));
    return;
  }
  if (!impl.enqueue_rate.take()) {
    return impl.refuse_for_quota(resolver, "enqueue_rate",
                                 "too many jobs: over " + std::to_string(static_cast<long>(impl.opt.max_enqueues_per_second)) +
                                     " a second for this app (jobs.max_enqueues_per_second)");
  }
  if (!std::isfinite(at_ms) || at_ms < 0 || at_ms > kLatestRunAtMs) {
    impl.reject(resolver, v8::Exception::RangeError(js::message(
                              isolate, "the job's time must be between 1970 and the year 9999")));
    return;
  }
  job.run_at = std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(std::llround(at_ms)));
  auto done = impl.completion<std::optional<std::string>>(impl.add_op(resolver), &Impl::settle_enqueue);
  impl.opt.host.jobs->enqueue(std::move(job), std::move(done));
}

void Sandbox::Impl::settle_sleep(Impl& impl, Local<v8::Promise::Resolver> resolver, bool&) {
  --impl.timers;
  impl.resolve(resolver, v8::Undefined(impl.isolate));
}

void Sandbox::Impl::host_sleep(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  if (!info[0]->IsNumber()) return js::throw_type_error(impl.isolate, "sleep: the delay must be a number");
  // Node's rule: a delay that is not a number from 1 to 2^31 - 1 is 1 ms.
  double ms = info[0].As<v8::Number>()->Value();
  if (!(ms >= 1 && ms <= 2147483647.0)) ms = 1;
  auto resolver = begin_op(info, true, v8::Exception::Error, "");
  if (resolver.IsEmpty()) return;
  if (impl.timers >= kMaxTimers) {
    return impl.refuse_for_quota(resolver, "timers",
                                 "too many timers: " + std::to_string(kMaxTimers) + " are pending for this app");
  }
  ++impl.timers;
  auto done = impl.completion<bool>(impl.add_op(resolver), &Impl::settle_sleep);
  impl.opt.executor->post_after(std::chrono::milliseconds(static_cast<long long>(ms)), impl.opt.thread,
                                [done = std::move(done)] { done(true); }, impl.opt.team_id);
}

void Sandbox::Impl::host_load_module(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  auto path = string_arg(info, 0, "loadModule: the path");
  if (!path) return;
  Local<v8::Value> loaded;
  if (impl.compile_module(*path).ToLocal(&loaded)) info.GetReturnValue().Set(loaded);
}

void Sandbox::Impl::host_resolve_module(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  auto referrer = string_arg(info, 0, "resolveModule: the referrer");
  if (!referrer) return;
  auto specifier = string_arg(info, 1, "resolveModule: the specifier");
  if (!specifier) return;
  if (auto path = resolve_module(*referrer, *specifier, impl.opt.bundle->files)) {
    info.GetReturnValue().Set(js::message(impl.isolate, *path));
  }
}

void Sandbox::Impl::host_cache_command(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  auto* isolate = impl.isolate;
  CacheCommand command;
  auto space = string_arg(info, 0, "cache: the key space");
  if (!space) return;
  auto verb = string_arg(info, 1, "cache: the command");
  if (!verb) return;
  auto key = string_arg(info, 2, "cache: the key");
  if (!key) return;
  command.space = std::move(*space);
  command.verb = std::move(*verb);
  command.key = std::move(*key);
  if (!info[3]->IsArray()) return js::throw_type_error(isolate, "cache: the arguments must be an array");
  auto args = info[3].As<v8::Array>();
  std::size_t bytes = command.key.size();
  for (uint32_t i = 0; i < args->Length(); ++i) {
    Local<v8::Value> arg;
    if (!args->Get(impl.ctx(), i).ToLocal(&arg)) return;
    auto text = js::utf8(isolate, arg);
    if (!text) return js::throw_type_error(isolate, "cache: each argument must be a string");
    bytes += text->size();
    command.args.push_back(std::move(*text));
    if (bytes > impl.opt.max_cache_value_bytes) break;
  }
  auto resolver = begin_op(info, impl.opt.host.cache, v8::Exception::Error,
                           "meta.cache is not available here: the daemon has no Redis");
  if (resolver.IsEmpty()) return;
  if (bytes > impl.opt.max_cache_value_bytes) {
    return impl.refuse_for_quota(resolver, "cache_value_bytes",
                                 "meta.cache: the key and values of this call are over the limit of " +
                                     std::to_string(impl.opt.max_cache_value_bytes) + " bytes (redis.max_value_bytes)");
  }
  auto done = impl.completion<redis::Reply>(impl.add_op(resolver), &Impl::settle_cache);
  impl.opt.host.cache->run(impl.opt.instance_id, std::move(command), std::move(done));
}

void Sandbox::Impl::settle_cache(Impl& impl, Local<v8::Promise::Resolver> resolver, redis::Reply& reply) {
  auto* isolate = impl.isolate;
  using Kind = redis::Reply::Kind;
  auto text = [&](const std::string& s, Local<v8::Value>* out) {
    Local<v8::String> value;
    if (!js::string(isolate, s).ToLocal(&value)) return false;
    *out = value;
    return true;
  };
  Local<v8::Value> value = v8::Null(isolate);
  switch (reply.kind) {
    case Kind::Error:
      return impl.reject(resolver, v8::Exception::Error(js::message(isolate, "meta.cache: " + reply.text)));
    case Kind::Nil:
      break;
    case Kind::Integer:
      value = v8::Number::New(isolate, static_cast<double>(reply.integer));
      break;
    case Kind::Text:
      if (!text(reply.text, &value)) {
        return impl.reject(resolver, v8::Exception::RangeError(js::message(isolate, "meta.cache: the value is too large")));
      }
      break;
    case Kind::List: {
      std::vector<Local<v8::Value>> items;
      for (const auto& item : reply.list) {
        Local<v8::Value> element = v8::Null(isolate);
        if (item && !text(*item, &element)) {
          return impl.reject(resolver, v8::Exception::RangeError(js::message(isolate, "meta.cache: the value is too large")));
        }
        items.push_back(element);
      }
      value = v8::Array::New(isolate, items.data(), items.size());
      break;
    }
  }
  impl.resolve(resolver, value);
}

void Sandbox::Impl::host_geoip_locate(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  auto* isolate = impl.isolate;
  auto ip = string_arg(info, 0, "meta.geoip.locate: the IP address");
  if (!ip) return;
  auto resolver = begin_op(info, impl.opt.host.geoip, v8::Exception::Error,
                           "meta.geoip is not available here: the daemon has no GeoIP database (geoip.mmdb_path)");
  if (resolver.IsEmpty()) return;
  // The lookup is in memory: it settles at once.
  auto found = impl.opt.host.geoip->locate(*ip);
  Local<v8::String> text;
  if (found.error) {
    impl.reject(resolver, v8::Exception::TypeError(js::message(isolate, "meta.geoip.locate: " + *found.error)));
  } else if (!found.json) {
    impl.resolve(resolver, v8::Null(isolate));
  } else if (js::string(isolate, *found.json).ToLocal(&text)) {
    impl.resolve(resolver, text);
  }
}

void Sandbox::Impl::host_storage_get(const v8::FunctionCallbackInfo<v8::Value>& info) {
  host_storage<StorageOp::Get>(info);
}

void Sandbox::Impl::host_storage_set(const v8::FunctionCallbackInfo<v8::Value>& info) {
  host_storage<StorageOp::Set>(info);
}

void Sandbox::Impl::host_storage_del(const v8::FunctionCallbackInfo<v8::Value>& info) {
  host_storage<StorageOp::Del>(info);
}

}  // namespace ps::runtime
