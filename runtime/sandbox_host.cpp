// The host functions behind fetch, storage and jobs: each gives JS a promise
// at once, starts the work on a host service, and settles the promise on the
// isolate's own thread when the work is done.

#include <cmath>

#include "runtime/executor.h"
#include "runtime/sandbox_impl.h"

namespace ps::runtime {

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
  return [weak, executor, thread, id, settle](Result result) {
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
      settle(impl, resolver, result);
      impl.run_microtasks();
    });
  };
}

void Sandbox::Impl::reject(Local<v8::Promise::Resolver> resolver, Local<v8::Value> error) {
  resolver->Reject(ctx(), error).Check();
}

Local<v8::Promise::Resolver> Sandbox::Impl::begin_op(const v8::FunctionCallbackInfo<v8::Value>& info, bool available,
                                                     Local<v8::Value> (*error)(Local<v8::String>),
                                                     const char* unavailable) {
  auto& impl = from(info);
  auto resolver = v8::Promise::Resolver::New(impl.ctx()).ToLocalChecked();
  info.GetReturnValue().Set(resolver->GetPromise());
  if (available) return resolver;
  impl.reject(resolver, error(js_string(impl.isolate, unavailable)));
  return {};
}

void Sandbox::Impl::host_log(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  if (impl.opt.log) impl.opt.log(text_of(impl.isolate, info[0]), text_of(impl.isolate, info[1]));
}

void Sandbox::Impl::host_fetch(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  auto* isolate = impl.isolate;
  auto resolver = begin_op(info, impl.opt.host.http, v8::Exception::TypeError, "fetch is not available here");
  if (resolver.IsEmpty()) return;
  FetchRequest request;
  request.url = text_of(isolate, info[0]);
  request.method = text_of(isolate, info[1]);
  if (info[2]->IsArray()) {
    auto headers = info[2].As<v8::Array>();
    for (uint32_t i = 0; i < headers->Length(); ++i) {
      auto pair = headers->Get(impl.ctx(), i).ToLocalChecked().As<v8::Array>();
      request.headers.emplace_back(text_of(isolate, pair->Get(impl.ctx(), 0).ToLocalChecked()),
                                   text_of(isolate, pair->Get(impl.ctx(), 1).ToLocalChecked()));
    }
  }
  if (info[3]->IsString()) request.body = text_of(isolate, info[3]);
  double timeout = info[4]->NumberValue(impl.ctx()).FromMaybe(0);
  if (timeout > 0) request.timeout = std::chrono::milliseconds(static_cast<long long>(timeout));
  auto id = impl.add_op(resolver);
  impl.opt.host.http->fetch(std::move(request), impl.completion<FetchResult>(id, &Impl::settle_fetch));
}

void Sandbox::Impl::settle_fetch(Impl& impl, Local<v8::Promise::Resolver> resolver, FetchResult& result) {
  auto* isolate = impl.isolate;
  auto ctx = impl.ctx();
  if (auto* error = std::get_if<std::string>(&result)) {
    impl.reject(resolver, v8::Exception::TypeError(js_string(isolate, "fetch failed: " + *error)));
    return;
  }
  auto& response = std::get<FetchResponse>(result);
  auto headers = v8::Array::New(isolate, static_cast<int>(response.headers.size()));
  for (std::size_t i = 0; i < response.headers.size(); ++i) {
    Local<v8::Value> pair[] = {js_string(isolate, response.headers[i].first),
                               js_string(isolate, response.headers[i].second)};
    headers->Set(ctx, static_cast<uint32_t>(i), v8::Array::New(isolate, pair, 2)).Check();
  }
  auto raw = v8::Object::New(isolate);
  raw->Set(ctx, js_string(isolate, "status"), v8::Integer::New(isolate, response.status)).Check();
  raw->Set(ctx, js_string(isolate, "statusText"), js_string(isolate, response.status_text)).Check();
  raw->Set(ctx, js_string(isolate, "headers"), headers).Check();
  raw->Set(ctx, js_string(isolate, "body"), js_string(isolate, response.body)).Check();
  raw->Set(ctx, js_string(isolate, "url"), js_string(isolate, response.url)).Check();
  resolver->Resolve(ctx, raw).Check();
}

void Sandbox::Impl::settle_storage(Impl& impl, Local<v8::Promise::Resolver> resolver, StorageResult& result) {
  auto* isolate = impl.isolate;
  if (result.error) {
    impl.reject(resolver, v8::Exception::Error(js_string(isolate, "storage: " + *result.error)));
  } else if (result.value) {
    resolver->Resolve(impl.ctx(), js_string(isolate, *result.value)).Check();
  } else {
    resolver->Resolve(impl.ctx(), v8::Undefined(isolate)).Check();
  }
}

template <Sandbox::Impl::StorageOp Op>
void Sandbox::Impl::host_storage(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  auto resolver = begin_op(info, impl.opt.host.storage, v8::Exception::Error, "storage is not available here");
  if (resolver.IsEmpty()) return;
  auto key = text_of(impl.isolate, info[0]);
  auto done = impl.completion<StorageResult>(impl.add_op(resolver), &Impl::settle_storage);
  auto* storage = impl.opt.host.storage;
  if constexpr (Op == StorageOp::Get) storage->get(impl.opt.instance_id, key, std::move(done));
  if constexpr (Op == StorageOp::Set)
    storage->set(impl.opt.instance_id, key, text_of(impl.isolate, info[1]), std::move(done));
  if constexpr (Op == StorageOp::Del) storage->del(impl.opt.instance_id, key, std::move(done));
}

void Sandbox::Impl::settle_enqueue(Impl& impl, Local<v8::Promise::Resolver> resolver,
                                   std::optional<std::string>& error) {
  if (error) {
    impl.reject(resolver, v8::Exception::Error(js_string(impl.isolate, "the job could not be enqueued: " + *error)));
  } else {
    resolver->Resolve(impl.ctx(), v8::Undefined(impl.isolate)).Check();
  }
}

void Sandbox::Impl::host_enqueue_job(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto& impl = from(info);
  auto* isolate = impl.isolate;
  auto resolver = begin_op(info, impl.opt.host.jobs, v8::Exception::Error, "jobs are not available here");
  if (resolver.IsEmpty()) return;
  JobRequest job;
  job.instance = impl.opt.instance_id;
  job.app = impl.opt.bundle->manifest.name;
  job.name = text_of(isolate, info[0]);
  if (info[1]->IsString()) {
    job.payload_json = text_of(isolate, info[1]);
    if (job.payload_json->size() > impl.opt.max_job_payload_bytes) {
      impl.reject(resolver, v8::Exception::RangeError(
                                js_string(isolate, "the job payload is " + std::to_string(job.payload_json->size()) +
                                                       " bytes, over the limit of " +
                                                       std::to_string(impl.opt.max_job_payload_bytes) + " bytes")));
      return;
    }
  }
  double at_ms = info[2]->NumberValue(impl.ctx()).FromMaybe(0);
  job.run_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(std::llround(at_ms)));
  auto done = impl.completion<std::optional<std::string>>(impl.add_op(resolver), &Impl::settle_enqueue);
  impl.opt.host.jobs->enqueue(std::move(job), std::move(done));
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
