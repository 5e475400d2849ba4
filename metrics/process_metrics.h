#pragma once
// The standard process_* metrics (CPU, memory, file descriptors, start time),
// read from /proc at scrape time.

namespace ps::metrics {
class Registry;
void add_process_metrics(Registry& registry);
}  // namespace ps::metrics
