#pragma once
// The exportEvents metrics, named once: the instances count what they
// buffer and store, the job queue what became of the stored batches.

#include <string>

#include "metrics/registry.h"

namespace ps::runtime {

// result: stored, ignored, unstorable, not_exported, exported, retried, failed, discarded.
inline metrics::Counter& export_events_counter(metrics::Registry& m, const std::string& app, const char* result) {
  return m.counter("plugin_server_export_events_total", "Events for exportEvents, by what became of them.",
                   {{"app", app}, {"result", result}});
}

inline metrics::Counter& export_batches_counter(metrics::Registry& m, const std::string& app, const char* result) {
  return m.counter("plugin_server_export_batches_total", "exportEvents batches by what became of them.",
                   {{"app", app}, {"result", result}});
}

// Events (and their bytes) joining, or leaving, an app's export buffers.
inline void add_to_export_buffers(metrics::Registry& m, const std::string& app, double events, double bytes) {
  m.gauge("plugin_server_export_buffer_events", "Events waiting in export buffers.", {{"app", app}}).add(events);
  m.gauge("plugin_server_export_buffer_bytes", "Bytes of events waiting in export buffers.", {{"app", app}}).add(bytes);
}

}  // namespace ps::runtime
