#include "redis/client.h"

#include <poll.h>

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include "metrics/registry.h"
#include "redis/flatten.h"

namespace ps::redis {

namespace {

// After a failed connection attempt, commands fail at once for this long
// before the next attempt.
constexpr auto kReconnectPause = std::chrono::milliseconds(500);

timeval to_timeval(std::chrono::milliseconds ms) {
  return {static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

ReplyPtr send(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<std::size_t> lengths;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  return ReplyPtr(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lengths.data())));
}


// True when Redis closed the connection while it was idle (it restarted, or
// dropped idle clients): an idle connection has nothing to read but EOF.
bool closed_while_idle(const redisContext* c) {
  pollfd p{c->fd, POLLIN, 0};
  return poll(&p, 1, 0) != 0;
}

}  // namespace

struct Client::Pending {
  std::vector<std::string> argv;
  Done done;
  std::chrono::steady_clock::time_point queued;
};

struct Client::Connection {
  ContextPtr context;
  std::chrono::steady_clock::time_point next_attempt{};
  std::string last_error;
};

struct Client::Instruments {
  metrics::Counter& commands;
  metrics::Counter& errors;
  metrics::Counter& refused;
  metrics::Histogram& seconds;
  metrics::Gauge& pending;
  metrics::Gauge& up;

  explicit Instruments(metrics::Registry& r)
      : commands(r.counter("plugin_server_redis_commands_total", "Commands sent to Redis (meta.cache, meta.utils.cursor).")),
        errors(r.counter("plugin_server_redis_errors_total",
                         "Redis commands that failed: Redis unreachable, timed out, or answered an error.")),
        refused(r.counter("plugin_server_redis_refused_total",
                          "Redis commands refused because redis.max_pending were already waiting.")),
        seconds(r.histogram("plugin_server_redis_command_seconds", "Time from queueing a Redis command to its reply.",
                            {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5})),
        pending(r.gauge("plugin_server_redis_pending", "Redis commands waiting for a connection.")),
        up(r.gauge("plugin_server_redis_up", "1 when the last Redis command or connection attempt succeeded, else 0.")) {
    up.set(1);
  }
};

Client::Client(ClientOptions options, metrics::Registry& metrics)
    : options_(std::move(options)), instruments_(std::make_unique<Instruments>(metrics)) {
  for (int i = 0; i < std::max(1, options_.connections); ++i) threads_.emplace_back([this, i] { run(i); });
  health_ = std::make_unique<base::Periodic>(options_.health_interval, [this] {
    if (used()) command({"PING"}, [](Reply) {});
  });
}

Client::~Client() {
  health_.reset();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  for (auto& p : queue_) p.done(Reply::error("the daemon is shutting down"));
}

void Client::command(std::vector<std::string> argv, Done done) {
  bool stopping = false;
  {
    std::unique_lock lock(mutex_);
    used_ = true;
    stopping = stopping_;
    if (!stopping_ && queue_.size() < options_.max_pending) {
      queue_.push_back(Pending{std::move(argv), std::move(done), std::chrono::steady_clock::now()});
      instruments_->pending.set(static_cast<double>(queue_.size()));
      lock.unlock();
      wake_.notify_one();
      return;
    }
  }
  instruments_->refused.inc();
  done(Reply::error(stopping ? "the daemon is shutting down"
                              : "too many Redis commands waiting (redis.max_pending = " +
                                    std::to_string(options_.max_pending) + ")"));
}

bool Client::used() const {
  std::lock_guard lock(mutex_);
  return used_;
}

bool Client::reachable(std::string* detail) const {
  std::lock_guard lock(mutex_);
  if (detail) *detail = reachable_ ? "" : unreachable_detail_;
  return reachable_;
}

void Client::note(bool reachable, const std::string& detail) {
  std::lock_guard lock(mutex_);
  if (reachable != reachable_) {
    if (reachable) {
      spdlog::info("redis: reachable at {}", options_.display);
    } else {
      spdlog::error("redis: {}", detail);
    }
  }
  reachable_ = reachable;
  unreachable_detail_ = detail;
  instruments_->up.set(reachable ? 1 : 0);
}

void Client::run(int) {
  Connection connection;
  for (;;) {
    Pending job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      instruments_->pending.set(static_cast<double>(queue_.size()));
    }
    Reply reply = execute(connection, job.argv);
    instruments_->commands.inc();
    if (reply.kind == Reply::Kind::Error) instruments_->errors.inc();
    instruments_->seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - job.queued).count());
    job.done(std::move(reply));
  }
}

Reply Client::execute(Connection& connection, const std::vector<std::string>& argv) {
  auto unreachable = [&](const std::string& why) {
    std::string message = "Redis is unreachable at " + options_.display + ": " + why;
    note(false, message);
    return Reply::error(message);
  };
  if (connection.context && closed_while_idle(connection.context.get())) connection.context.reset();
  if (!connection.context) {
    auto now = std::chrono::steady_clock::now();
    if (now < connection.next_attempt) return unreachable(connection.last_error);
    const auto& e = options_.endpoint;
    auto tv = to_timeval(options_.connect_timeout);
    ContextPtr c(e.socket_path.empty() ? redisConnectWithTimeout(e.host.c_str(), e.port, tv)
                                       : redisConnectUnixWithTimeout(e.socket_path.c_str(), tv));
    std::string why = !c ? "out of memory" : c->err ? std::string(c->errstr) : "";
    if (why.empty() && redisSetTimeout(c.get(), to_timeval(options_.command_timeout)) != REDIS_OK) {
      why = "cannot set the command timeout";
    }
    // AUTH and SELECT, as the URL asks.
    std::vector<std::vector<std::string>> handshake;
    if (!e.password.empty()) {
      handshake.push_back(e.username.empty() ? std::vector<std::string>{"AUTH", e.password}
                                             : std::vector<std::string>{"AUTH", e.username, e.password});
    }
    if (e.db != 0) handshake.push_back({"SELECT", std::to_string(e.db)});
    for (const auto& step : handshake) {
      if (!why.empty()) break;
      auto r = send(c.get(), step);
      if (!r) why = c->errstr;
      else if (r->type == REDIS_REPLY_ERROR) why = step[0] + " failed: " + std::string(r->str, r->len);
    }
    if (!why.empty()) {
      connection.last_error = why;
      connection.next_attempt = now + kReconnectPause;
      return unreachable(why);
    }
    connection.context = std::move(c);
  }
  auto r = send(connection.context.get(), argv);
  if (!r) {
    // An I/O error or a timeout: the connection is unusable now.
    std::string why = connection.context->errstr;
    connection.context.reset();
    return unreachable(why);
  }
  note(true, "");
  return flatten(*r);
}

}  // namespace ps::redis
