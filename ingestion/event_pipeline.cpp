#include "ingestion/event_pipeline.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <librdkafka/rdkafkacpp.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "ingestion/message_parser.h"
#include "metrics/registry.h"
#include "runtime/event_chain.h"

namespace ps::ingestion {

namespace {

using Clock = std::chrono::steady_clock;

struct Item {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string bytes;
  Clock::time_point consumed_at;
};

// Travels with a produced message until its delivery report, so a failed
// delivery can be sent again and a delivered one settles its input offset.
struct Ticket {
  int32_t partition = 0;
  int64_t offset = 0;
  int generation = 0;
  Clock::time_point consumed_at;
  std::string topic;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  bool dead_letter = false;
};

void set(RdKafka::Conf& conf, const std::string& name, const std::string& value) {
  std::string error;
  if (conf.set(name, value, error) != RdKafka::Conf::CONF_OK) {
    throw std::runtime_error("kafka: cannot set " + name + ": " + error);
  }
}

}  // namespace

struct EventPipeline::Impl : RdKafka::DeliveryReportCb, RdKafka::EventCb, RdKafka::RebalanceCb {
  PipelineOptions opt;
  const runtime::EventChain& chain;
  metrics::Counter& consumed;
  metrics::Counter& produced;
  metrics::Counter& dropped;
  metrics::Counter& failed_in_app;
  metrics::Counter& dead_lettered;
  metrics::Counter& delivery_failures;
  metrics::Gauge& in_flight_gauge;
  metrics::Gauge& assigned_gauge;
  metrics::Histogram& latency;
  metrics::Registry& metrics;

  std::unique_ptr<RdKafka::Producer> producer;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;

  struct Partition {
    std::deque<Item> waiting;
    bool busy = false;
    std::set<int64_t> unsettled;
    int64_t next = -1;       // one past the highest offset consumed
    int64_t committed = -1;  // the last offset committed
    int generation = 0;      // which assignment this state belongs to
  };
  mutable std::mutex mutex;
  std::condition_variable settled;
  std::map<int32_t, Partition> partitions;
  std::size_t in_flight = 0;
  bool paused = false;
  int generations = 0;
  std::string down_reason;  // empty while the brokers are reachable

  std::atomic<bool> stopping{false};
  bool stopped = false;
  std::thread consumer_thread;
  std::thread poll_thread;
  std::atomic<bool> polling{true};

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
        in_flight_gauge(m.gauge("plugin_server_ingestion_in_flight", "Messages consumed and not yet settled.")),
        assigned_gauge(m.gauge("plugin_server_ingestion_assigned_partitions", "Input partitions this daemon holds.")),
        latency(m.histogram("plugin_server_ingestion_latency_seconds",
                            "From consuming a message to its output being acknowledged.", metrics::duration_buckets())),
        metrics(m) {}

  void start() {
    std::unique_ptr<RdKafka::Conf> pconf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    set(*pconf, "bootstrap.servers", opt.brokers);
    set(*pconf, "enable.idempotence", "true");
    set(*pconf, "linger.ms", "5");
    set(*pconf, "reconnect.backoff.max.ms", "1000");
    std::string error;
    pconf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), error);
    pconf->set("event_cb", static_cast<RdKafka::EventCb*>(this), error);
    producer.reset(RdKafka::Producer::create(pconf.get(), error));
    if (!producer) throw std::runtime_error("kafka: cannot create the producer: " + error);

    std::unique_ptr<RdKafka::Conf> cconf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    set(*cconf, "bootstrap.servers", opt.brokers);
    set(*cconf, "group.id", opt.group_id);
    set(*cconf, "enable.auto.commit", "false");
    set(*cconf, "auto.offset.reset", "earliest");
    set(*cconf, "session.timeout.ms", std::to_string(opt.session_timeout_ms));
    set(*cconf, "reconnect.backoff.max.ms", "1000");
    set(*cconf, "statistics.interval.ms", "5000");
    cconf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), error);
    cconf->set("event_cb", static_cast<RdKafka::EventCb*>(this), error);
    consumer.reset(RdKafka::KafkaConsumer::create(cconf.get(), error));
    if (!consumer) throw std::runtime_error("kafka: cannot create the consumer: " + error);
    if (auto err = consumer->subscribe({opt.input_topic}); err) {
      throw std::runtime_error("kafka: cannot subscribe to " + opt.input_topic + ": " + RdKafka::err2str(err));
    }
    poll_thread = std::thread([this] {
      while (polling) producer->poll(50);
    });
    consumer_thread = std::thread([this] { consume_loop(); });
    spdlog::info("ingestion: consuming {} in group {} from {}", opt.input_topic, opt.group_id, opt.brokers);
  }

  // --- consuming ------------------------------------------------------------

  void consume_loop() {
    auto next_commit = Clock::now() + opt.commit_interval;
    while (!stopping) {
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
      flow_control();
      if (Clock::now() >= next_commit) {
        commit(false);
        next_commit = Clock::now() + opt.commit_interval;
      }
    }
  }

  void on_message(RdKafka::Message& msg) {
    consumed.inc();
    Item item{msg.partition(), msg.offset(), std::string(static_cast<const char*>(msg.payload()), msg.len()),
              Clock::now()};
    {
      std::lock_guard lock(mutex);
      auto it = partitions.find(item.partition);
      if (it == partitions.end()) return;  // not ours any more
      it->second.unsettled.insert(item.offset);
      it->second.next = std::max(it->second.next, item.offset + 1);
      it->second.waiting.push_back(std::move(item));
      ++in_flight;
      in_flight_gauge.set(static_cast<double>(in_flight));
    }
    advance(msg.partition());
  }

  // Pauses fetching while too much is in flight, so memory stays bounded.
  void flow_control() {
    bool pause = false, resume = false;
    {
      std::lock_guard lock(mutex);
      if (!paused && in_flight >= opt.max_in_flight) pause = paused = true;
      else if (paused && in_flight <= opt.max_in_flight / 2) resume = true, paused = false;
    }
    if (!pause && !resume) return;
    std::vector<RdKafka::TopicPartition*> assigned;
    consumer->assignment(assigned);
    if (pause) consumer->pause(assigned);
    else consumer->resume(assigned);
    RdKafka::TopicPartition::destroy(assigned);
  }

  // Commits, per partition, the offset below which everything is settled.
  void commit(bool sync) {
    std::vector<RdKafka::TopicPartition*> offsets;
    {
      std::lock_guard lock(mutex);
      for (auto& [p, state] : partitions) {
        int64_t target = state.unsettled.empty() ? state.next : *state.unsettled.begin();
        if (target > state.committed) {
          offsets.push_back(RdKafka::TopicPartition::create(opt.input_topic, p, target));
          state.committed = target;
        }
      }
    }
    if (offsets.empty()) return;
    auto err = sync ? consumer->commitSync(offsets) : consumer->commitAsync(offsets);
    if (err) spdlog::warn("ingestion: commit failed (will commit again): {}", RdKafka::err2str(err));
    RdKafka::TopicPartition::destroy(offsets);
  }

  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& assigned) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      {
        std::lock_guard lock(mutex);
        for (auto* tp : assigned) {
          Partition fresh;
          fresh.generation = ++generations;
          partitions[tp->partition()] = std::move(fresh);
        }
        assigned_gauge.set(static_cast<double>(partitions.size()));
      }
      spdlog::info("ingestion: assigned {} partition(s) of {}", assigned.size(), opt.input_topic);
      c->assign(assigned);
      return;
    }
    // Revoked: commit what is settled; what is still in flight will be read
    // again by the partition's next owner (at-least-once).
    commit(true);
    {
      std::lock_guard lock(mutex);
      for (auto* tp : assigned) {
        auto it = partitions.find(tp->partition());
        if (it == partitions.end()) continue;
        // Their settles will find no partition of their generation: uncount them now.
        in_flight -= it->second.unsettled.size();
        partitions.erase(it);
      }
      assigned_gauge.set(static_cast<double>(partitions.size()));
    }
    spdlog::info("ingestion: {} partition(s) revoked", assigned.size());
    c->unassign();
  }

  // --- processing -----------------------------------------------------------

  // Starts the next waiting event of a partition, one at a time, so events
  // of a partition keep their order.
  void advance(int32_t partition) {
    // A completion that happens at once calls back in here: the loop below
    // picks up the next event instead of recursing.
    thread_local const Impl* advancing = nullptr;
    if (advancing == this) return;
    advancing = this;
    for (;;) {
      Item item;
      int generation;
      {
        std::lock_guard lock(mutex);
        auto it = partitions.find(partition);
        if (it == partitions.end() || it->second.busy || it->second.waiting.empty()) break;
        it->second.busy = true;
        item = std::move(it->second.waiting.front());
        it->second.waiting.pop_front();
        generation = it->second.generation;
      }
      handle(std::move(item), generation);
    }
    advancing = nullptr;
  }

  void handle(Item item, int generation) {
    auto parsed = parse_message(item.bytes, opt.max_message_bytes);
    if (auto* dead = std::get_if<DeadLetter>(&parsed)) {
      Ticket t{item.partition, item.offset, generation, item.consumed_at, opt.dlq_topic, "", std::move(item.bytes),
               {{"dlq-reason", dead->reason},
                {"dlq-source-topic", opt.input_topic},
                {"dlq-source-partition", std::to_string(item.partition)},
                {"dlq-source-offset", std::to_string(item.offset)}},
               true};
      produce(std::make_unique<Ticket>(std::move(t)));
      done_with(item.partition, generation);
      return;
    }
    auto& event = std::get<ParsedEvent>(parsed);
    auto key = std::to_string(event.team_id) + ":" + event.distinct_id;
    auto partition = item.partition;
    auto offset = item.offset;
    auto consumed_at = item.consumed_at;
    auto team = event.team_id;
    chain.process(team, std::move(event.json),
                  [this, partition, offset, consumed_at, generation, key, team](runtime::ChainResult r) {
                    if (!r.failed.empty()) failed_in_app.inc();
                    if (!r.event) {
                      dropped.inc();
                      settle(partition, offset, generation, consumed_at);
                    } else {
                      chain.on_event(team, *r.event);
                      produce(std::make_unique<Ticket>(Ticket{partition, offset, generation, consumed_at,
                                                              opt.output_topic, key, std::move(*r.event), {}, false}));
                    }
                    done_with(partition, generation);
                  });
  }

  void done_with(int32_t partition, int generation) {
    {
      std::lock_guard lock(mutex);
      auto it = partitions.find(partition);
      if (it != partitions.end() && it->second.generation == generation) it->second.busy = false;
    }
    advance(partition);
  }

  // --- producing ------------------------------------------------------------

  void produce(std::unique_ptr<Ticket> ticket) {
    for (int attempt = 0;; ++attempt) {
      auto* headers = RdKafka::Headers::create();
      for (const auto& [k, v] : ticket->headers) headers->add(k, v);
      auto err = producer->produce(ticket->topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                   ticket->value.data(), ticket->value.size(),
                                   ticket->key.empty() ? nullptr : ticket->key.data(), ticket->key.size(), 0, headers,
                                   ticket.get());
      if (!err) {
        ticket.release();  // the delivery report owns it now
        return;
      }
      delete headers;
      if (attempt % 100 == 0) spdlog::warn("ingestion: produce to {}: {}; retrying", ticket->topic, RdKafka::err2str(err));
      std::this_thread::sleep_for(std::chrono::milliseconds(err == RdKafka::ERR__QUEUE_FULL ? 5 : 100));
    }
  }

  void dr_cb(RdKafka::Message& msg) override {
    std::unique_ptr<Ticket> ticket(static_cast<Ticket*>(msg.msg_opaque()));
    if (msg.err()) {
      // Not acknowledged: send it again, so its input offset never commits
      // without its output.
      delivery_failures.inc();
      spdlog::warn("ingestion: delivery to {} failed ({}); sending again", ticket->topic, msg.errstr());
      produce(std::move(ticket));
      return;
    }
    (ticket->dead_letter ? dead_lettered : produced).inc();
    settle(ticket->partition, ticket->offset, ticket->generation, ticket->consumed_at);
  }

  void settle(int32_t partition, int64_t offset, int generation, Clock::time_point consumed_at) {
    latency.observe(std::chrono::duration<double>(Clock::now() - consumed_at).count());
    std::lock_guard lock(mutex);
    auto it = partitions.find(partition);
    if (it != partitions.end() && it->second.generation == generation) {
      it->second.unsettled.erase(offset);
      --in_flight;
    }
    in_flight_gauge.set(static_cast<double>(in_flight));
    settled.notify_all();
  }

  // --- health ---------------------------------------------------------------

  void reachable() {
    std::lock_guard lock(mutex);
    if (!down_reason.empty()) spdlog::info("ingestion: brokers reachable again");
    down_reason.clear();
  }

  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_ERROR: {
        if (event.err() == RdKafka::ERR__ALL_BROKERS_DOWN) {
          std::lock_guard lock(mutex);
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

  // Consumer lag per partition, from librdkafka's statistics.
  void record_lag(const std::string& stats_json) {
    auto stats = nlohmann::json::parse(stats_json, nullptr, false);
    if (!stats.is_object() || stats.value("type", "") != "consumer") return;
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
    {
      std::unique_lock lock(mutex);
      if (!settled.wait_for(lock, grace, [this] { return in_flight == 0; })) {
        spdlog::warn("ingestion: {} message(s) still in flight after the grace period; they will be read again",
                     in_flight);
      }
    }
    producer->flush(5000);
    commit(true);
    consumer->close();
    polling = false;
    if (poll_thread.joinable()) poll_thread.join();
  }
};

EventPipeline::EventPipeline(PipelineOptions options, const runtime::EventChain& chain, metrics::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), chain, metrics)) {
  impl_->start();
}

EventPipeline::~EventPipeline() { stop(std::chrono::milliseconds(0)); }

void EventPipeline::stop(std::chrono::milliseconds grace) { impl_->stop(grace); }

std::size_t EventPipeline::assigned_partitions() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->partitions.size();
}

bool EventPipeline::connected(std::string* reason) const {
  std::lock_guard lock(impl_->mutex);
  if (reason) *reason = impl_->down_reason;
  return impl_->down_reason.empty();
}

}  // namespace ps::ingestion
