#include "ingestion/capture_producer.h"

#include <atomic>
#include <charconv>
#include <thread>

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include "ingestion/kafka_config.h"
#include "metrics/registry.h"

namespace ps::ingestion {

namespace {

using Done = std::function<void(std::optional<std::string>)>;

// Room above the largest event for the key, headers and framing.
constexpr std::size_t kFramingRoom = 64 * 1024;

}  // namespace

int capture_hops_of(RdKafka::Message& message) {
  auto* headers = message.headers();
  if (!headers) return 0;
  auto header = headers->get_last(kCaptureHopsHeader);
  if (header.err() != RdKafka::ERR_NO_ERROR) return 0;
  std::string_view value(static_cast<const char*>(header.value()), header.value_size());
  int hops = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), hops);
  if (error != std::errc() || end != value.data() + value.size() || hops < 0 || hops > 1000) return 1000;
  return hops;
}

struct CaptureProducer::Impl : RdKafka::DeliveryReportCb {
  CaptureOptions opt;
  metrics::Counter& produced;
  metrics::Counter& failed;
  std::unique_ptr<RdKafka::Producer> producer;
  // Held so the producer knows the topic's leaders before the first capture.
  std::unique_ptr<RdKafka::Topic> topic;
  std::atomic<bool> polling{true};
  std::thread poll_thread;

  Impl(CaptureOptions o, metrics::Registry& m)
      : opt(std::move(o)),
        produced(m.counter("plugin_server_capture_produced_total",
                           "Events apps captured (posthog.capture) that the broker acknowledged.")),
        failed(m.counter("plugin_server_capture_failed_total",
                         "Events apps captured that could not be sent (the app's promise rejected).")) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    set_property(*conf, "bootstrap.servers", opt.brokers);
    set_property(*conf, "enable.idempotence", "true");
    set_property(*conf, "linger.ms", "5");
    set_property(*conf, "reconnect.backoff.max.ms", "1000");
    set_property(*conf, "message.max.bytes", std::to_string(opt.max_message_bytes + kFramingRoom));
    set_property(*conf, "message.timeout.ms", std::to_string(opt.delivery_timeout.count()));
    std::string error;
    conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), error);
    producer.reset(RdKafka::Producer::create(conf.get(), error));
    if (!producer) throw std::runtime_error("kafka: cannot create the capture producer: " + error);
    topic.reset(RdKafka::Topic::create(producer.get(), opt.topic, nullptr, error));
    if (!topic) throw std::runtime_error("kafka: topic " + opt.topic + ": " + error);
    poll_thread = std::thread([this] {
      while (polling) producer->poll(50);
    });
  }

  ~Impl() override {
    auto err = producer->flush(static_cast<int>(opt.delivery_timeout.count()));
    polling = false;
    poll_thread.join();
    if (err) {
      spdlog::warn("capture: {} captured event(s) not acknowledged at shutdown: {}", producer->outq_len(),
                   RdKafka::err2str(err));
    }
    // Whatever is still queued is purged; its delivery reports fail the captures.
    producer->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    producer->poll(0);
  }

  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<Done> done(static_cast<Done*>(message.msg_opaque()));
    if (message.err()) {
      failed.inc();
      (*done)("the broker did not take the event: " + message.errstr());
    } else {
      produced.inc();
      (*done)(std::nullopt);
    }
  }
};

CaptureProducer::CaptureProducer(CaptureOptions options, metrics::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), metrics)) {}

CaptureProducer::~CaptureProducer() = default;

void CaptureProducer::capture(runtime::CapturedEvent event, std::function<void(std::optional<std::string>)> done) {
  auto* headers = RdKafka::Headers::create();
  headers->add(kCaptureHopsHeader, std::to_string(event.hops));
  auto opaque = std::make_unique<Done>(std::move(done));
  auto err = impl_->producer->produce(impl_->opt.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                      event.message.data(), event.message.size(), event.key.data(), event.key.size(), 0,
                                      headers, opaque.get());
  if (err) {
    delete headers;
    impl_->failed.inc();
    (*opaque)("the event could not be queued for the broker: " + RdKafka::err2str(err));
    return;
  }
  opaque.release();
}

}  // namespace ps::ingestion
