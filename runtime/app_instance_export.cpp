// exportEvents, durable: an instance buffers its team's processed events and
// stores each batch as an "export" job in the Postgres queue before the
// events count as settled (their input offsets may then be committed). The
// queue runs the job, which calls exportEvents, and retries it with its
// backoff; a kill -9 before the batch is stored loses nothing either, since
// the events are read again.

#include <limits>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "json/scan.h"
#include "metrics/registry.h"
#include "runtime/app_instance.h"
#include "runtime/executor.h"
#include "runtime/export_metrics.h"

namespace ps::runtime {

namespace {

// Storing a batch again after a failure (Postgres down, the queue full):
// from one second, doubling, to half a minute.
std::chrono::milliseconds store_retry_delay(int attempt) {
  return std::chrono::milliseconds(std::min<long long>(30000, 1000ll << std::min(attempt - 1, 5)));
}

}  // namespace

void AppInstance::export_event(std::string event_json, std::function<void()> durable) {
  on_thread([self = shared_from_this(), event = std::move(event_json),
                                durable = std::move(durable)]() mutable {
    if (!self->exports_.has("exportEvents")) return durable();
    auto& m = *self->env_.metrics;
    if (!self->export_buffer_) {
      auto config = nlohmann::json::parse(self->settings_.config_json, nullptr, false);
      self->export_buffer_ = std::make_unique<ExportBuffer>(ExportSettings::from_config(config));
    }
    // The scanner does not recurse: any depth is safe here.
    auto fields = json::scan_top_level(event, {std::numeric_limits<std::size_t>::max()});
    std::string name = fields && fields->event.kind == json::ScannedField::string ? fields->event.text : "";
    auto& buffer = *self->export_buffer_;
    bool was_empty = buffer.empty();
    if (buffer.ignores(name)) {
      export_events_counter(m, self->name(), "ignored").inc();
      return durable();
    }
    add_to_export_buffers(m, self->name(), 1, static_cast<double>(event.size()));
    buffer.add(std::move(event), std::move(durable));
    if (buffer.full()) return self->take_export_batch();
    if (was_empty) {
      std::weak_ptr<AppInstance> weak = self;
      auto batch = self->export_batches_;
      self->on_thread_after(buffer.settings().max_age, [weak, batch] {
        auto instance = weak.lock();
        if (instance && instance->export_batches_ == batch) instance->take_export_batch();
      });
    }
  });
}

void AppInstance::flush_exports() {
  on_thread([self = shared_from_this()] { self->take_export_batch(); });
}

void AppInstance::take_export_batch() {
  if (!export_buffer_ || export_buffer_->empty()) return;
  ++export_batches_;
  auto batch = std::make_shared<ExportBatch>(export_buffer_->take());
  auto& m = *env_.metrics;
  add_to_export_buffers(m, name(), -static_cast<double>(batch->events.size()), -static_cast<double>(batch->bytes()));
  m.histogram("plugin_server_export_batch_age_seconds", "How long a batch's first event waited in the buffer.",
              metrics::duration_buckets(), {{"app", name()}})
      .observe(std::chrono::duration<double>(ExportBuffer::Clock::now() - batch->first_added).count());
  store_export_batch(std::move(batch), 1);
}

void AppInstance::store_export_batch(std::shared_ptr<ExportBatch> batch, int attempt) {
  auto& m = *env_.metrics;
  if (!env_.host.jobs) {
    // Only without a job queue (some tools and tests): said and counted.
    log("error", "exportEvents cannot run: this daemon has no job queue; " + std::to_string(batch->events.size()) +
                     " event(s) not exported");
    export_events_counter(m, name(), "not_exported").inc(static_cast<double>(batch->events.size()));
    for (auto& durable : batch->durable) durable();
    return;
  }
  JobRequest job;
  job.instance = id();
  job.app = name();
  job.kind = "export";
  job.name = "exportEvents";
  job.payload_json = batch->payload();
  job.run_at = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  std::weak_ptr<AppInstance> weak = weak_from_this();
  env_.host.jobs->enqueue(std::move(job), [weak, batch, attempt, &m, app = name()](std::optional<std::string> error) {
    if (!error) {
      export_batches_counter(m, app, "stored").inc();
      export_events_counter(m, app, "stored").inc(static_cast<double>(batch->events.size()));
      for (auto& durable : batch->durable) durable();
      return;
    }
    // Not stored: the instance decides what next, on its thread. Gone, it
    // leaves the events unsettled, to be read again.
    if (auto instance = weak.lock()) {
      instance->on_thread([weak, batch, attempt, error = *error] {
        if (auto self = weak.lock()) self->export_batch_not_stored(batch, attempt, error);
      });
    }
  });
}

void AppInstance::export_batch_not_stored(std::shared_ptr<ExportBatch> batch, int attempt, const std::string& error) {
  if (error.rfind(kUnstorablePayload, 0) == 0) {
    if (batch->events.size() > 1) {
      // One event Postgres cannot hold must not keep the rest from export.
      for (std::size_t i = 0; i < batch->events.size(); ++i) {
        auto single = std::make_shared<ExportBatch>();
        single->events.push_back(std::move(batch->events[i]));
        single->durable.push_back(std::move(batch->durable[i]));
        single->first_added = batch->first_added;
        store_export_batch(std::move(single), 1);
      }
      return;
    }
    log("error", "an event cannot be exported: " + error);
    export_events_counter(*env_.metrics, name(), "unstorable").inc();
    for (auto& durable : batch->durable) durable();
    return;
  }
  auto delay = store_retry_delay(attempt);
  log("warn", "could not store an export batch of " + std::to_string(batch->events.size()) + " event(s) (attempt " +
                  std::to_string(attempt) + "), trying again in " + std::to_string(delay.count()) + " ms: " + error);
  std::weak_ptr<AppInstance> weak = weak_from_this();
  on_thread_after(delay, [weak, batch, attempt] {
    if (auto again = weak.lock()) again->store_export_batch(batch, attempt + 1);
  });
}

}  // namespace ps::runtime
