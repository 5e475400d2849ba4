#include "scheduler/notifier.h"

#include <algorithm>

#include "db/listener.h"
#include "scheduler/sql.h"

namespace ps::scheduler {

namespace {

// A payload's run_at in milliseconds since the epoch, clamped to tomorrow:
// a job due past that is found again by a later poll, and a time that far
// out would not fit the clock. Unknown text: due now.
std::chrono::system_clock::time_point due_time(const std::string& payload) {
  using namespace std::chrono;
  long long ms = 0;
  try {
    ms = std::stoll(payload);
  } catch (const std::exception&) {
  }
  long long tomorrow = duration_cast<milliseconds>((system_clock::now() + hours(24)).time_since_epoch()).count();
  return system_clock::time_point(milliseconds(std::clamp(ms, 0LL, tomorrow)));
}

}  // namespace

Notifier::Notifier(std::string database_url, Handler handler) {
  db::ListenerOptions options{std::move(database_url), sql::kChannel, "jobs"};
  listener_ = std::make_unique<db::Listener>(options, [handler = std::move(handler)](const std::vector<std::string>& payloads) {
    // Nothing heard (a reconnect): jobs may have arrived unheard; look now.
    auto earliest = payloads.empty() ? std::chrono::system_clock::time_point() : due_time(payloads.front());
    for (const auto& payload : payloads) earliest = std::min(earliest, due_time(payload));
    handler(earliest);
  });
}

Notifier::~Notifier() = default;

}  // namespace ps::scheduler
