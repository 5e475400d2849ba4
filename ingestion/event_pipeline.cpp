#include "ingestion/event_pipeline.h"

#include <atomic>
#include <deque>
#include <thread>

#include <librdkafka/rdkafkacpp.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "ingestion/capture_producer.h"
#include "ingestion/in_flight.h"
#include "ingestion/kafka_config.h"
#include "ingestion/message_parser.h"
#include "metrics/registry.h"
#include "runtime/event_chain.h"

namespace ps::ingestion {

namespace {

using Clock = std::chrono::steady_clock;

// An input message, and the parts of its work still to do: its offset
// settles once its output is acknowledged and, for a processed event, its
// onEvent calls settled and its export batches stored; or once its dead
// letter is acknowledged.
struct Settlement {
  Settlement(int32_t p, int64_t o, int g, Clock::time_point at, int n)
      : partition(p), offset(o), generation(g), consumed_at(at), parts(n) {}
  const int32_t partition;
  const int64_t offset;
  const int generation;
  const Clock::time_point consumed_at;
  std::atomic<int> parts;
};

// Travels with a produced message until its delivery report, so a failed
// delivery can be sent again and a delivered one settles its input offset.
struct Ticket {
  const std::string* topic = nullptr;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  bool dead_letter = false;
  // An output's input message, dead-lettered if the output is refused.
  std::shared_ptr<const std::string> source;
  std::string source_key;
  // Its input message; released when the message is acknowledged (or given
  // up on), and shared with the dead letter that replaces a refused output.
  std::shared_ptr<Settlement> settlement;
};

// Errors that sending again cannot cure: the message itself is refused.
bool permanent(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR_INVALID_MSG_SIZE:
    case RdKafka::ERR_INVALID_MSG:
    case RdKafka::ERR_RECORD_LIST_TOO_LARGE:
    case RdKafka::ERR_INVALID_RECORD:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_POLICY_VIOLATION:
    case RdKafka::ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

// Room above kafka.max_message_bytes for a message's key, headers and
// framing, so the producer never refuses what the daemon decided to send.
constexpr std::size_t kFramingRoom = 64 * 1024;

// How long the consumer may wait for room before it pauses its partitions:
// waiting without polling is cheapest (librdkafka keeps what it fetched), but
// the group needs to hear from the consumer now and then.
constexpr auto kWaitForRoom = std::chrono::milliseconds(500);

// How often a full in-flight window makes the export buffers flush.
constexpr auto kExportFlushInterval = std::chrono::milliseconds(100);

}  // namespace

struct EventPipeline::Impl : RdKafka::DeliveryReportCb,
                             RdKafka::EventCb,
                             RdKafka::RebalanceCb,
                             std::enable_shared_from_this<EventPipeline::Impl> {
  PipelineOptions opt;
  const runtime::EventChain& chain;
  metrics::Counter& consumed;
  metrics::Counter& produced;
  metrics::Counter& dropped;
  metrics::Counter& failed_in_app;
  metrics::Counter& dead_lettered;
  metrics::Counter& delivery_failures;
  metrics::Counter& refused_outputs;
  metrics::Counter& lost_dead_letters;
  metrics::Counter& pauses;
  metrics::Counter& parked_total;
  metrics::Gauge& in_flight_gauge;
  metrics::Gauge& parked_gauge;
  metrics::Gauge& parked_bytes_gauge;
  metrics::Gauge& assigned_gauge;
  metrics::Histogram& latency;
  metrics::Registry& metrics;

  std::unique_ptr<RdKafka::Producer> producer;
  // Held so the producer knows the topics' leaders before the first event.
  std::unique_ptr<RdKafka::Topic> output_topic;
  std::unique_ptr<RdKafka::Topic> dlq_topic;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  InFlight in_flight;
  bool paused = false;  // consumer thread only
  Clock::time_point last_export_flush;  // consumer thread only

  mutable std::mutex health_mutex;
  std::string down_reason;  // empty while the brokers are reachable

  std::atomic<bool> stopping{false};
  bool stopped = false;
  std::thread consumer_thread;
  std::thread poll_thread;
  std::atomic<bool> polling{true};
  // Messages to send again from the poll thread: producing never blocks
  // the thread that asks for it (a JS thread, the consumer, a delivery report).
  std::mutex resend_mutex;
  std::deque<std::unique_ptr<Ticket>> resend;
  int resend_rounds = 0;  // poll thread only

  Impl(PipelineOptions o, const runtime::EventChain& c, metrics::Registry& m)
      : opt(std::move(o)),
        chain(c),
        consumed(m.counter("plugin_server_ingestion_consumed_total", "Input messages consumed.")),
        produced(m.counter("plugin_server_ingestion_produced_total", "Processed events produced and acknowledged.")),
        dropped(m.counter("plugin_server_ingestion_dropped_total", "Events dropped by an app.")),
        failed_in_app(m.counter("plugin_server_ingestion_failed_in_app_total",
                                "Events that at least one app failed on (produced with $plugins_failed).")),
        dead_lettered(m.counter("plugin_server_ingestion_dead_lettered_total",
                                "Messages sent to the dead-letter topic and acknowledged.")),
        delivery_failures(m.counter("plugin_server_ingestion_delivery_failures_total",
                                    "Produce attempts the broker did not acknowledge (sent again).")),
        refused_outputs(m.counter("plugin_server_ingestion_refused_outputs_total",
                                  "Processed events too large or refused by the broker; their input was dead-lettered.")),
        lost_dead_letters(m.counter("plugin_server_ingestion_dead_letters_lost_total",
                                    "Dead letters the broker refused for good (logged with their offset, then skipped).")),
        pauses(m.counter("plugin_server_ingestion_pauses_total",
                         "Times fetching paused because kafka.max_in_flight messages stayed unsettled.")),
        parked_total(m.counter("plugin_server_ingestion_parked_total",
                               "Events parked because their team had kafka.max_in_flight_per_team in flight.")),
        in_flight_gauge(m.gauge("plugin_server_ingestion_in_flight",
                                "Messages consumed and not yet settled, parked events aside.")),
        parked_gauge(m.gauge("plugin_server_ingestion_parked", "Events parked outside the window, waiting for their team's share.")),
        parked_bytes_gauge(m.gauge("plugin_server_ingestion_parked_bytes", "Bytes held by parked events.")),
        assigned_gauge(m.gauge("plugin_server_ingestion_assigned_partitions", "Input partitions this daemon holds.")),
        latency(m.histogram("plugin_server_ingestion_latency_seconds",
                            "From consuming a message to its output being acknowledged.", metrics::duration_buckets())),
        metrics(m),
        in_flight(opt.max_in_flight_per_team) {}

  void start() {
    std::unique_ptr<RdKafka::Conf> pconf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    set_property(*pconf, "bootstrap.servers", opt.brokers);
    set_property(*pconf, "enable.idempotence", "true");
    set_property(*pconf, "linger.ms", "5");
    set_property(*pconf, "reconnect.backoff.max.ms", "1000");
    set_property(*pconf, "message.max.bytes", std::to_string(opt.max_message_bytes + kFramingRoom));
    // Every message in flight has at most one copy queued: with room for all
    // of them, a full local queue is a fault, not back-pressure.
    set_property(*pconf, "queue.buffering.max.messages", std::to_string(std::max<std::size_t>(100000, 2 * opt.max_in_flight)));
    std::string error;
    pconf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), error);
    pconf->set("event_cb", static_cast<RdKafka::EventCb*>(this), error);
    producer.reset(RdKafka::Producer::create(pconf.get(), error));
    if (!producer) throw std::runtime_error("kafka: cannot create the producer: " + error);
    output_topic.reset(RdKafka::Topic::create(producer.get(), opt.output_topic, nullptr, error));
    if (!output_topic) throw std::runtime_error("kafka: topic " + opt.output_topic + ": " + error);
    dlq_topic.reset(RdKafka::Topic::create(producer.get(), opt.dlq_topic, nullptr, error));
    if (!dlq_topic) throw std::runtime_error("kafka: topic " + opt.dlq_topic + ": " + error);

    std::unique_ptr<RdKafka::Conf> cconf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    set_property(*cconf, "bootstrap.servers", opt.brokers);
    set_property(*cconf, "group.id", opt.group_id);
    set_property(*cconf, "enable.auto.commit", "false");
    set_property(*cconf, "auto.offset.reset", "earliest");
    set_property(*cconf, "session.timeout.ms", std::to_string(opt.session_timeout_ms));
    set_property(*cconf, "reconnect.backoff.max.ms", "1000");
    set_property(*cconf, "statistics.interval.ms", "5000");
    // Able to read the largest message the daemon accepts.
    auto fetch_max = std::max<std::size_t>(52428800, opt.max_message_bytes + kFramingRoom);
    set_property(*cconf, "fetch.max.bytes", std::to_string(fetch_max));
    set_property(*cconf, "receive.message.max.bytes", std::to_string(std::max<std::size_t>(100000000, fetch_max + 512)));
    cconf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), error);
    cconf->set("event_cb", static_cast<RdKafka::EventCb*>(this), error);
    consumer.reset(RdKafka::KafkaConsumer::create(cconf.get(), error));
    if (!consumer) throw std::runtime_error("kafka: cannot create the consumer: " + error);
    if (auto err = consumer->subscribe({opt.input_topic}); err) {
      throw std::runtime_error("kafka: cannot subscribe to " + opt.input_topic + ": " + RdKafka::err2str(err));
    }
    poll_thread = std::thread([this] {
      while (polling) {
        producer->poll(50);
        send_waiting();
      }
    });
    consumer_thread = std::thread([this] { consume_loop(); });
    spdlog::info("ingestion: consuming {} in group {} from {}", opt.input_topic, opt.group_id, opt.brokers);
  }

  // --- consuming ------------------------------------------------------------

  void consume_loop() {
    auto next_commit = Clock::now() + opt.commit_interval;
    while (!stopping) {
      flow_control();
      std::unique_ptr<RdKafka::Message> msg(consumer->consume(50));
      switch (msg->err()) {
        case RdKafka::ERR_NO_ERROR:
          reachable();
          on_message(*msg);
          break;
        case RdKafka::ERR__TIMED_OUT:
        case RdKafka::ERR__PARTITION_EOF:
          break;
        default:
          spdlog::warn("ingestion: consume: {}", msg->errstr());
      }
      if (Clock::now() >= next_commit) {
        commit(false);
        next_commit = Clock::now() + opt.commit_interval;
      }
    }
  }

  void on_message(RdKafka::Message& msg) {
    consumed.inc();
    auto now = Clock::now();
    std::string_view bytes(static_cast<const char*>(msg.payload()), msg.len());
    std::string source_key = msg.key() ? *msg.key() : std::string();
    auto parsed = parse_message(bytes, opt.max_message_bytes, opt.max_depth);
    if (auto* dead = std::get_if<DeadLetter>(&parsed)) {
      auto generation = in_flight.track(msg.partition(), msg.offset());
      if (!generation) return;  // not ours any more
      produce(dead_letter(std::make_shared<Settlement>(msg.partition(), msg.offset(), *generation, now, 1),
                          std::string(bytes), std::move(source_key), dead->reason));
    } else {
      auto& event = std::get<ParsedEvent>(parsed);
      event.capture_hops = capture_hops_of(msg);
      PendingEvent pending{msg.partition(), msg.offset(), 0, now,
                           std::to_string(event.team_id) + ":" + event.distinct_id, std::move(event),
                           std::make_shared<const std::string>(bytes), std::move(source_key)};
      switch (in_flight.admit(pending)) {
        case InFlight::Admission::run_now:
          run(std::move(pending));
          break;
        case InFlight::Admission::parked:
          parked_total.inc();
          break;
        case InFlight::Admission::waits_for_key:
        case InFlight::Admission::not_assigned:
          break;
      }
    }
    update_gauges();
  }

  void update_gauges() {
    in_flight_gauge.set(static_cast<double>(in_flight.count()));
    parked_gauge.set(static_cast<double>(in_flight.parked_events()));
    parked_bytes_gauge.set(static_cast<double>(in_flight.parked_bytes()));
  }

  // Parked events whose team has room again (after a settle or a revoke).
  void run_unparked(std::vector<PendingEvent> runnable) {
    for (auto& event : runnable) run(std::move(event));
  }

  // The dead letter for an input message: the message as it was (cut to
  // kafka.max_message_bytes, which the header then says), its key, and
  // where it came from.
  std::unique_ptr<Ticket> dead_letter(std::shared_ptr<Settlement> input, std::string value, std::string key,
                                      const std::string& reason) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"dlq-reason", reason},
        {"dlq-source-topic", opt.input_topic},
        {"dlq-source-partition", std::to_string(input->partition)},
        {"dlq-source-offset", std::to_string(input->offset)}};
    if (value.size() > opt.max_message_bytes) {
      headers.emplace_back("dlq-truncated-from-bytes", std::to_string(value.size()));
      value.resize(opt.max_message_bytes);
    }
    return std::make_unique<Ticket>(Ticket{&opt.dlq_topic, std::move(key), std::move(value), std::move(headers), true,
                                           nullptr, {}, std::move(input)});
  }

  // Bounded work: at kafka.max_in_flight unsettled messages (or
  // kafka.max_parked_mb of parked events) the consumer waits for settles;
  // if that takes long, it pauses fetching (polling on for the group's
  // sake) until half of them have settled.
  void flow_control() {
    bool full = in_flight.count() >= opt.max_in_flight || in_flight.parked_bytes() >= opt.max_parked_bytes;
    // Events waiting in export buffers hold their offsets: with the window
    // full (or fetching paused), store them now rather than wait for a
    // buffer's time; at most every kExportFlushInterval, since a full window
    // may last and each flush asks every exporting instance.
    if (full || (paused && in_flight.count() > 0)) {
      if (auto now = Clock::now(); now - last_export_flush >= kExportFlushInterval) {
        chain.flush_exports();
        last_export_flush = now;
      }
    }
    if (paused) {
      if (in_flight.count() <= opt.max_in_flight / 2 && in_flight.parked_bytes() <= opt.max_parked_bytes / 2) {
        set_paused(false);
      }
      return;
    }
    if (!full) return;
    if (in_flight.wait_for_room(opt.max_in_flight - 1, opt.max_parked_bytes - 1, kWaitForRoom)) return;
    pauses.inc();
    if (auto parked = in_flight.parked(); parked.bytes >= opt.max_parked_bytes) {
      spdlog::warn("ingestion: {} parked events hold {} bytes (team {} has {} of them); fetching paused until half "
                   "of that is free",
                   parked.events, parked.bytes, parked.largest_team, parked.largest_team_events);
    } else {
      spdlog::warn("ingestion: {} messages unsettled; fetching paused until half of them settle", opt.max_in_flight);
    }
    set_paused(true);
  }

  void set_paused(bool pause) {
    std::vector<RdKafka::TopicPartition*> assigned;
    consumer->assignment(assigned);
    auto err = pause ? consumer->pause(assigned) : consumer->resume(assigned);
    if (err) spdlog::warn("ingestion: {}: {}", pause ? "pause" : "resume", RdKafka::err2str(err));
    RdKafka::TopicPartition::destroy(assigned);
    paused = pause;
  }

  // Commits, per partition, the offset below which everything is settled.
  void commit(bool sync) {
    auto targets = in_flight.take_commit_targets();
    if (targets.empty()) return;
    std::vector<RdKafka::TopicPartition*> offsets;
    for (const auto& t : targets) offsets.push_back(RdKafka::TopicPartition::create(opt.input_topic, t.partition, t.offset));
    auto err = sync ? consumer->commitSync(offsets) : consumer->commitAsync(offsets);
    if (err) spdlog::warn("ingestion: commit failed (will commit again): {}", RdKafka::err2str(err));
    RdKafka::TopicPartition::destroy(offsets);
  }

  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& assigned) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      for (auto* tp : assigned) run_unparked(in_flight.assign(tp->partition()));
      assigned_gauge.set(static_cast<double>(in_flight.partitions()));
      spdlog::info("ingestion: assigned {} partition(s) of {}", assigned.size(), opt.input_topic);
      c->assign(assigned);
      // librdkafka keeps a partition's pause across assignments (a resume
      // between revoke and assign reaches no partition): set every assigned
      // partition to what the flow control says now.
      auto set = paused ? c->pause(assigned) : c->resume(assigned);
      if (set) spdlog::warn("ingestion: {} after assignment: {}", paused ? "pause" : "resume", RdKafka::err2str(set));
      return;
    }
    // Revoked: commit what is settled; what is still in flight will be read
    // again by the partition's next owner (at-least-once).
    commit(true);
    for (auto* tp : assigned) run_unparked(in_flight.revoke(tp->partition()));
    assigned_gauge.set(static_cast<double>(in_flight.partitions()));
    update_gauges();
    spdlog::info("ingestion: {} partition(s) revoked", assigned.size());
    c->unassign();
  }

  // --- processing -----------------------------------------------------------

  // Sends an event along its team's apps. A chain that completes at once (a
  // team without apps) would start the next event of its key from inside
  // the completion; the loop takes those in turn instead of recursing.
  void run(PendingEvent event) {
    thread_local std::deque<std::pair<Impl*, PendingEvent>>* ready = nullptr;
    if (ready) {
      ready->emplace_back(this, std::move(event));
      return;
    }
    std::deque<std::pair<Impl*, PendingEvent>> queue;
    queue.emplace_back(this, std::move(event));
    ready = &queue;
    while (!queue.empty()) {
      auto [impl, next] = std::move(queue.front());
      queue.pop_front();
      impl->walk(std::move(next));
    }
    ready = nullptr;
  }

  // The chain may answer after the pipeline is gone (an app call outlived
  // the shutdown grace): the answer then finds nobody and is dropped.
  void walk(PendingEvent e) {
    auto team = e.event.team_id;
    auto hops = e.event.capture_hops;
    auto json = std::move(e.event.json);
    chain.process(
        team, std::move(json),
        [weak = weak_from_this(), e = std::move(e)](runtime::ChainResult r) mutable {
          if (auto self = weak.lock()) self->chain_done(std::move(e), std::move(r));
        },
        hops);
  }

  void chain_done(PendingEvent e, runtime::ChainResult r) {
    if (!r.failed.empty()) failed_in_app.inc();
    if (!r.event) {
      dropped.inc();
      settle(Settlement(e.partition, e.offset, e.generation, e.consumed_at, 0));
    } else if (r.event->size() > opt.max_message_bytes) {
      refused_outputs.inc();
      produce(dead_letter(std::make_shared<Settlement>(e.partition, e.offset, e.generation, e.consumed_at, 1),
                          *e.source, e.source_key,
                          "the processed event is " + std::to_string(r.event->size()) +
                              " bytes, over kafka.max_message_bytes (" + std::to_string(opt.max_message_bytes) + ")"));
    } else {
      // Three parts: the output's acknowledgement, the onEvent calls
      // settling, and the exports' storing. Until all are done the event
      // counts in flight: bounded, and read again after a crash.
      auto settlement = std::make_shared<Settlement>(e.partition, e.offset, e.generation, e.consumed_at, 3);
      auto part_done = [weak = weak_from_this(), settlement] {
        if (auto self = weak.lock()) self->release(settlement);
      };
      chain.on_event(e.event.team_id, *r.event, e.event.capture_hops, part_done);
      chain.export_event(e.event.team_id, *r.event, part_done);
      produce(std::make_unique<Ticket>(
          Ticket{&opt.output_topic, e.key, std::move(*r.event), {}, false, e.source, e.source_key, settlement}));
    }
    if (auto next = in_flight.key_done(e.partition, e.generation, e.key)) run(std::move(*next));
  }

  // --- producing ------------------------------------------------------------

  // Hands the message to librdkafka without ever waiting: what cannot be
  // queued now is sent again by the poll thread, what is refused for good
  // goes to refused().
  void produce(std::unique_ptr<Ticket> ticket) {
    auto err = send(ticket);
    if (!err) return;
    if (permanent(err)) return refused(std::move(ticket), RdKafka::err2str(err));
    std::lock_guard lock(resend_mutex);
    resend.push_back(std::move(ticket));
  }

  // One attempt; on success librdkafka owns the ticket until its delivery report.
  RdKafka::ErrorCode send(std::unique_ptr<Ticket>& ticket) {
    RdKafka::Headers* headers = nullptr;
    if (!ticket->headers.empty()) {
      headers = RdKafka::Headers::create();
      for (const auto& [k, v] : ticket->headers) headers->add(k, v);
    }
    auto err = producer->produce(*ticket->topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                 ticket->value.data(), ticket->value.size(),
                                 ticket->key.empty() ? nullptr : ticket->key.data(), ticket->key.size(), 0, headers,
                                 ticket.get());
    if (err) {
      delete headers;
      return err;
    }
    ticket.release();
    return err;
  }

  // On the poll thread, after each poll: sends again what waits, in order,
  // until the first that still cannot be queued.
  void send_waiting() {
    std::deque<std::unique_ptr<Ticket>> waiting;
    {
      std::lock_guard lock(resend_mutex);
      waiting.swap(resend);
    }
    while (!waiting.empty()) {
      auto err = send(waiting.front());
      if (!err) {
        waiting.pop_front();
        continue;
      }
      if (permanent(err)) {
        auto ticket = std::move(waiting.front());
        waiting.pop_front();
        refused(std::move(ticket), RdKafka::err2str(err));
        continue;
      }
      if (++resend_rounds % 100 == 1) {
        spdlog::warn("ingestion: produce to {}: {}; {} message(s) wait to be sent again", *waiting.front()->topic,
                     RdKafka::err2str(err), waiting.size());
      }
      break;
    }
    std::lock_guard lock(resend_mutex);
    while (!waiting.empty()) {
      resend.push_front(std::move(waiting.back()));
      waiting.pop_back();
    }
  }

  // A message the producer or broker refused for good. An output's input
  // goes to the dead-letter topic instead; a dead letter that is refused is
  // counted and logged with its offset, and its input settles.
  void refused(std::unique_ptr<Ticket> ticket, const std::string& why) {
    if (!ticket->dead_letter) {
      refused_outputs.inc();
      spdlog::warn("ingestion: the output of {}[{}]@{} was refused ({}); dead-lettering its input", opt.input_topic,
                   ticket->settlement->partition, ticket->settlement->offset, why);
      produce(dead_letter(std::move(ticket->settlement), ticket->source ? *ticket->source : std::string(),
                          ticket->source_key, "the processed event was refused: " + why));
      return;
    }
    lost_dead_letters.inc();
    spdlog::error("ingestion: the dead letter for {}[{}]@{} was refused ({}); the message is skipped",
                  opt.input_topic, ticket->settlement->partition, ticket->settlement->offset, why);
    release(ticket->settlement);
  }

  void dr_cb(RdKafka::Message& msg) override {
    std::unique_ptr<Ticket> ticket(static_cast<Ticket*>(msg.msg_opaque()));
    if (msg.err()) {
      if (permanent(msg.err())) return refused(std::move(ticket), msg.errstr());
      // Not acknowledged: send it again, so its input offset never commits
      // without its output. Not from here: this runs inside poll().
      delivery_failures.inc();
      spdlog::warn("ingestion: delivery to {} failed ({}); sending again", *ticket->topic, msg.errstr());
      std::lock_guard lock(resend_mutex);
      resend.push_back(std::move(ticket));
      return;
    }
    (ticket->dead_letter ? dead_lettered : produced).inc();
    release(ticket->settlement);
  }

  // One part of a message's work is done; the last one settles it.
  void release(const std::shared_ptr<Settlement>& s) {
    if (--s->parts == 0) settle(*s);
  }

  void settle(const Settlement& s) {
    latency.observe(std::chrono::duration<double>(Clock::now() - s.consumed_at).count());
    if (auto unparked = in_flight.settle(s.partition, s.offset, s.generation)) run(std::move(*unparked));
    update_gauges();
  }

  // --- health ---------------------------------------------------------------

  void reachable() {
    std::lock_guard lock(health_mutex);
    if (!down_reason.empty()) spdlog::info("ingestion: brokers reachable again");
    down_reason.clear();
  }

  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_ERROR: {
        if (event.err() == RdKafka::ERR__ALL_BROKERS_DOWN) {
          std::lock_guard lock(health_mutex);
          if (down_reason.empty()) spdlog::error("ingestion: {}", event.str());
          down_reason = event.str();
        } else {
          spdlog::warn("ingestion: {}: {}", RdKafka::err2str(event.err()), event.str());
        }
        break;
      }
      case RdKafka::Event::EVENT_STATS:
        record_lag(event.str());
        break;
      default:
        break;
    }
  }

  // Consumer lag per partition, from librdkafka's statistics; and whether
  // a broker is up, which says the brokers are back even while fetching is
  // paused and no message arrives to say so.
  void record_lag(const std::string& stats_json) {
    auto stats = nlohmann::json::parse(stats_json, nullptr, false);
    if (!stats.is_object() || stats.value("type", "") != "consumer") return;
    if (auto brokers = stats.find("brokers"); brokers != stats.end() && brokers->is_object()) {
      for (const auto& [name, broker] : brokers->items()) {
        if (broker.is_object() && broker.value("nodeid", -1) >= 0 && broker.value("state", "") == "UP") {
          reachable();
          break;
        }
      }
    }
    auto topic = stats["topics"][opt.input_topic];
    if (!topic.is_object()) return;
    for (const auto& [p, partition] : topic["partitions"].items()) {
      if (p == "-1" || !partition.contains("consumer_lag")) continue;
      long long lag = partition["consumer_lag"].get<long long>();
      if (lag < 0) continue;
      metrics.gauge("plugin_server_ingestion_consumer_lag", "Messages behind the end of each input partition.",
                    {{"partition", p}})
          .set(static_cast<double>(lag));
    }
  }

  void stop(std::chrono::milliseconds grace) {
    if (stopped) return;
    stopped = true;
    stopping = true;
    if (consumer_thread.joinable()) consumer_thread.join();
    chain.flush_exports();
    if (!in_flight.wait_until_settled(grace)) {
      spdlog::warn("ingestion: {} message(s) still in flight and {} parked after the grace period; they will be "
                   "read again",
                   in_flight.count(), in_flight.parked_events());
    }
    producer->flush(5000);
    commit(true);
    consumer->close();
    polling = false;
    if (poll_thread.joinable()) poll_thread.join();
  }
};

EventPipeline::EventPipeline(PipelineOptions options, const runtime::EventChain& chain, metrics::Registry& metrics)
    : impl_(std::make_shared<Impl>(std::move(options), chain, metrics)) {
  impl_->start();
}

EventPipeline::~EventPipeline() { stop(std::chrono::milliseconds(0)); }

void EventPipeline::stop(std::chrono::milliseconds grace) { impl_->stop(grace); }

std::size_t EventPipeline::assigned_partitions() const { return impl_->in_flight.partitions(); }

bool EventPipeline::connected(std::string* reason) const {
  std::lock_guard lock(impl_->health_mutex);
  if (reason) *reason = impl_->down_reason;
  return impl_->down_reason.empty();
}

}  // namespace ps::ingestion
