#pragma once
// What app code reaches outside its isolate, as interfaces the runtime calls
// and other parts implement: HTTP (fetch), durable storage, the job queue
// and the cache.
// Every operation is asynchronous: `done` may be called on any thread, exactly
// once; the runtime carries the result back to the isolate's own thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "redis/reply.h"

namespace ps::runtime {

using InstanceId = std::int64_t;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct FetchRequest {
  std::string url;
  std::string method = "GET";
  HeaderList headers;
  std::string body;
  std::chrono::milliseconds timeout{0};  // 0: the fetcher's default
};

struct FetchResponse {
  int status = 0;
  std::string status_text;
  HeaderList headers;
  std::string body;
  std::string url;  // after redirects
};

// A failure is a message for a TypeError ("connection refused", "timed out").
using FetchResult = std::variant<FetchResponse, std::string>;

class HttpFetcher {
 public:
  virtual ~HttpFetcher() = default;
  virtual void fetch(FetchRequest request, std::function<void(FetchResult)> done) = 0;
};

// Per-instance key/value storage of JSON text. An error is a message string.
struct StorageResult {
  std::optional<std::string> value;  // get: the JSON text, nullopt when absent
  std::optional<std::string> error;
  std::optional<std::string> refused;  // over a quota: why (the write did not happen)
};

class Storage {
 public:
  virtual ~Storage() = default;
  virtual void get(InstanceId instance, std::string key, std::function<void(StorageResult)> done) = 0;
  virtual void set(InstanceId instance, std::string key, std::string json, std::function<void(StorageResult)> done) = 0;
  virtual void del(InstanceId instance, std::string key, std::function<void(StorageResult)> done) = 0;
};

// A job an app asks to run: `run_at` is wall-clock time, in milliseconds
// (a nanosecond clock ends in 2262; apps may ask for later).
struct JobRequest {
  InstanceId instance = 0;
  std::string app;  // the app's name, for metrics
  // "job" (meta.jobs), or "export": a batch of events for exportEvents
  // (`name` is then "exportEvents" and the payload the events' JSON array).
  std::string kind = "job";
  std::string name;
  std::optional<std::string> payload_json;  // nullopt: the job takes no payload
  std::chrono::sys_time<std::chrono::milliseconds> run_at;
};

// The start of the error for a payload Postgres cannot store as jsonb (such
// as text holding \u0000): sending it again cannot help.
inline constexpr const char* kUnstorablePayload = "the payload cannot be stored: ";

// The job queue, as the runtime sees it: "enqueue this job, tell me when it is
// durable". `done` gets nullopt once it is committed, else the error message.
class JobSink {
 public:
  virtual ~JobSink() = default;
  virtual void enqueue(JobRequest job, std::function<void(std::optional<std::string> error)> done) = 0;
};

// meta.cache and meta.utils.cursor: Redis commands on keys of the instance's
// own. `space` keeps the two apart ("cache", "cursor"); `verb` is one of the
// commands the prelude uses, and anything else is refused.
struct CacheCommand {
  std::string space;
  std::string verb;
  std::string key;
  std::vector<std::string> args;
};

class Cache {
 public:
  virtual ~Cache() = default;
  virtual void run(InstanceId instance, CacheCommand command, std::function<void(redis::Reply)> done) = 0;
};

// meta.geoip: the database record of an IP address. Lookups are in memory
// (the file is mapped), so they answer at once.
struct GeoIpResult {
  // {"record": {...the database's fields...}, "network": "81.2.69.0/24"};
  // nullopt (without an error) when the address is not in it, or not public.
  std::optional<std::string> json;
  std::optional<std::string> error;  // not an IP address, or the file is damaged
};

class GeoIp {
 public:
  virtual ~GeoIp() = default;
  virtual GeoIpResult locate(const std::string& ip) const = 0;
};

// posthog.capture: one event for the instance's team, produced into the input
// topic so it is ingested like any other. `done` gets nullopt once the broker
// has acknowledged it, else why it was not sent.
struct CapturedEvent {
  long long team_id = 0;
  std::string key;      // the message key: the event's distinct_id
  std::string message;  // the message's JSON
  // How many captures led to it, itself included: 1 when captured outside
  // the processing of a captured event.
  int hops = 1;
};

class EventCapture {
 public:
  virtual ~EventCapture() = default;
  virtual void capture(CapturedEvent event, std::function<void(std::optional<std::string> error)> done) = 0;
};

struct HostServices {
  HttpFetcher* http = nullptr;
  Storage* storage = nullptr;
  JobSink* jobs = nullptr;  // null: meta.jobs rejects every run*()
  Cache* cache = nullptr;   // null: meta.cache and meta.utils.cursor reject every call
  const GeoIp* geoip = nullptr;  // null: meta.geoip.locate rejects (no geoip.mmdb_path)
  EventCapture* capture = nullptr;  // null: posthog.capture rejects
  // posthog.api: fetch whose address policy also lets it reach posthog.api_url
  // (often a private address); apps' own fetch never gets that exception.
  HttpFetcher* api_http = nullptr;
};

}  // namespace ps::runtime
