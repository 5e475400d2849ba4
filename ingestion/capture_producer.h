#pragma once
// posthog.capture's way into the input topic: a producer of its own
// (idempotent, so a retry never doubles an event), whose delivery reports
// settle each capture's promise. Captured events carry their hop count in
// a header, which ingestion hands back to the apps that process them.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "runtime/host_services.h"

namespace RdKafka {
class Message;
}
namespace ps::metrics {
class Registry;
}

namespace ps::ingestion {

// The message header that says how many captures in a row led to an event.
inline constexpr const char* kCaptureHopsHeader = "plugin-server-capture-hops";

// The hop count a consumed message carries: 0 without the header; an
// unreadable one counts as the most (1000), so a loop cannot hide behind a
// damaged header.
int capture_hops_of(RdKafka::Message& message);

struct CaptureOptions {
  std::string brokers;
  std::string topic;
  std::size_t max_message_bytes = 1u << 20;
  // A capture not acknowledged within this is failed (its promise rejects).
  std::chrono::milliseconds delivery_timeout{30000};
};

class CaptureProducer final : public runtime::EventCapture {
 public:
  // Throws std::runtime_error when librdkafka refuses the settings.
  CaptureProducer(CaptureOptions options, metrics::Registry& metrics);
  // Waits up to `delivery_timeout` for captures in flight; the rest fail.
  ~CaptureProducer() override;
  CaptureProducer(const CaptureProducer&) = delete;
  CaptureProducer& operator=(const CaptureProducer&) = delete;

  void capture(runtime::CapturedEvent event, std::function<void(std::optional<std::string>)> done) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ps::ingestion
