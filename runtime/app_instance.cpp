#include "runtime/app_instance.h"

#include <utility>

#include <spdlog/spdlog.h>

#include "metrics/registry.h"
#include "runtime/executor.h"

namespace ps::runtime {

namespace {
// Reading heap statistics costs about as much as a small call: sample it.
constexpr int kHeapSampleEvery = 64;
}  // namespace

struct AppInstance::MethodMetrics {
  metrics::Counter* calls;
  metrics::Counter* errors;
  metrics::Counter* timeouts;
  metrics::Histogram* duration;
};

AppInstance::AppInstance(InstanceSettings settings, InstanceEnvironment& env)
    : settings_(std::move(settings)),
      env_(env),
      label_(settings_.bundle->manifest.name + " (" + std::to_string(settings_.id) + ")"),
      thread_(settings_.thread),
      recent_log_(env.kept_log),
      console_budget_(env.console),
      health_(env.health, std::chrono::steady_clock::now()) {
  heap_gauge_ = &env_.metrics->gauge("plugin_server_app_heap_used_bytes", "V8 heap in use by an app instance.",
                                     {{"app", name()}, {"team", std::to_string(team_id())}});
  console_dropped_ = &env_.metrics->counter("plugin_server_app_console_dropped_total",
                                            "console lines not logged: the instance was over log.app_lines_per_second.",
                                            {{"app", name()}});
  for (auto state : {HealthState::healthy, HealthState::degraded, HealthState::suspended, HealthState::disabled}) {
    state_gauges_[state] = &env_.metrics->gauge(
        "plugin_server_app_state", "1 for the health state an app instance is in (see AppHealth), else 0.",
        {{"app", name()}, {"team", std::to_string(team_id())}, {"state", health_state_name(state)}});
    state_gauges_[state]->set(state == HealthState::healthy ? 1 : 0);
  }
}

AppInstance::~AppInstance() = default;

// In the team's lane of its thread, so a thread shares its time fairly
// between the teams whose instances live on it.
void AppInstance::on_thread(std::function<void()> task) { env_.executor->post(thread_, std::move(task), team_id()); }

void AppInstance::on_thread_after(std::chrono::milliseconds delay, std::function<void()> task) {
  env_.executor->post_after(delay, thread_, std::move(task), team_id());
}

std::string AppInstance::disabled_reason() const {
  std::lock_guard lock(reason_mutex_);
  return disabled_reason_;
}

AppInstance::MethodMetrics& AppInstance::metrics_for(const std::string& method) {
  auto& slot = method_metrics_[method];
  if (!slot) {
    auto& r = *env_.metrics;
    metrics::Labels labels = {{"app", name()}, {"method", method}};
    slot = std::make_unique<MethodMetrics>(MethodMetrics{
        &r.counter("plugin_server_app_calls_total", "Calls into app methods.", labels),
        &r.counter("plugin_server_app_errors_total", "App calls that threw or broke a limit.", labels),
        &r.counter("plugin_server_app_timeouts_total", "App calls stopped by the CPU or wall-clock limit.", labels),
        &r.histogram("plugin_server_app_call_duration_seconds", "Time from calling an app method to its result.",
                     metrics::duration_buckets(), labels)});
  }
  return *slot;
}

void AppInstance::log(const std::string& level, const std::string& text) {
  auto& counter = console_counters_[level];
  if (!counter) {
    counter = &env_.metrics->counter("plugin_server_app_console_messages_total", "console.* calls by apps, by level.",
                                     {{"app", name()}, {"level", level}});
  }
  counter->inc();
  if (!console_budget_.take()) {
    console_dropped_->inc();
    return;
  }
  if (auto dropped = console_budget_.take_dropped()) {
    spdlog::warn("[app {} team {}] {} console line(s) not logged: over log.app_lines_per_second", label_, team_id(),
                 dropped);
  }
  auto spd_level = level == "error" ? spdlog::level::err
                   : level == "warn" ? spdlog::level::warn
                   : level == "debug" ? spdlog::level::debug
                                      : spdlog::level::info;
  auto line = console_budget_.line(text);
  spdlog::log(spd_level, "[app {} team {}] {}", label_, team_id(), line);
  recent_log_.add(level, std::move(line));
}

void AppInstance::start(std::function<void(std::optional<std::string>)> ready) {
  on_thread([self = shared_from_this(), ready = std::move(ready)]() mutable {
    self->create_sandbox(1, std::move(ready));
  });
}

void AppInstance::create_sandbox(int attempt, std::function<void(std::optional<std::string>)> ready) {
  SandboxOptions options;
  options.bundle = settings_.bundle;
  options.label = label_;
  options.instance_id = settings_.id;
  options.team_id = settings_.team_id;
  options.max_captures_per_second = env_.max_captures_per_second;
  options.max_capture_hops = env_.max_capture_hops;
  options.max_capture_bytes = env_.max_capture_bytes;
  options.max_concurrent_fetches = env_.max_concurrent_fetches;
  options.max_pending_storage_calls = env_.max_pending_storage_calls;
  options.posthog_api = settings_.posthog_api;
  options.max_event_depth = env_.max_event_depth;
  options.config_json = settings_.config_json;
  options.attachments_json = settings_.attachments_json;
  options.limits = env_.limits;
  options.host = env_.host;
  options.watchdog = env_.watchdog;
  options.executor = env_.executor;
  options.code_cache = env_.code_cache;
  options.thread = thread_;
  options.max_job_payload_bytes = env_.max_job_payload_bytes;
  options.max_log_line_bytes = env_.console.max_line_bytes;
  options.max_storage_value_bytes = env_.max_storage_value_bytes;
  options.max_cache_value_bytes = env_.max_cache_value_bytes;
  options.max_enqueues_per_second = env_.max_enqueues_per_second;
  std::weak_ptr<AppInstance> weak = weak_from_this();
  // The sandbox may outlive no instance: it logs through a weak reference.
  options.log = [weak](const std::string& level, const std::string& text) {
    if (auto self = weak.lock()) self->log(level, text);
  };
  options.refused = [weak](const char* quota) {
    if (auto self = weak.lock()) {
      self->env_.metrics
          ->counter("plugin_server_app_quota_refusals_total", "App calls refused for a per-instance quota.",
                    {{"app", self->name()}, {"quota", quota}})
          .inc();
    }
  };
  charged_time_ = std::chrono::nanoseconds(0);
  try {
    sandbox_ = Sandbox::create(std::move(options));
  } catch (const BundleError& e) {
    // A broken bundle does not get better by retrying.
    disable(e.what());
    ready(std::string(e.what()));
    return;
  } catch (const std::exception& e) {
    retry_setup(attempt, e.what(), std::move(ready));
    return;
  }
  exports_ = sandbox_->exports();
  processes_events_ = exports_.has("processEvent");
  run_setup(attempt, std::move(ready));
}

void AppInstance::run_setup(int attempt, std::function<void(std::optional<std::string>)> ready) {
  auto now_ready = [this](std::function<void(std::optional<std::string>)>& ready) {
    if (state_ == InstanceState::Stopped) return;
    if (state_ == InstanceState::SetupFailed) spdlog::info("[app {} team {}] setupPlugin succeeded; ready", label_, team_id());
    state_ = InstanceState::Ready;
    if (ready) ready(std::nullopt);
  };
  if (!exports_.has("setupPlugin")) return now_ready(ready);
  sandbox_->call("setupPlugin", {},
                 observed("setupPlugin", [self = shared_from_this(), attempt, ready, now_ready](CallOutcome outcome) mutable {
                   if (outcome.ok()) return now_ready(ready);
                   self->retry_setup(attempt, "setupPlugin failed: " + outcome.error, std::move(ready));
                 }));
}

void AppInstance::retry_setup(int attempt, const std::string& error,
                              std::function<void(std::optional<std::string>)> ready) {
  if (state_ == InstanceState::Stopped) return;
  std::chrono::milliseconds delay = std::min<std::chrono::milliseconds>(
      env_.setup_backoff * (1LL << std::min(attempt - 1, 20)), env_.setup_backoff_max);
  auto reason = error + " (attempt " + std::to_string(attempt) + "; next in " + std::to_string(delay.count()) + " ms)";
  spdlog::warn("[app {} team {}] {}", label_, team_id(), reason);
  if (attempt >= env_.setup_attempts) {
    {
      std::lock_guard lock(reason_mutex_);
      disabled_reason_ = reason;
    }
    state_ = InstanceState::SetupFailed;
    // The loader goes on without it; setup is retried in the background.
    if (ready) std::exchange(ready, nullptr)(disabled_reason());
  }
  // Start the next attempt from a fresh isolate, outside the failed call's stack.
  on_thread_after(delay, [self = shared_from_this(), attempt, ready = std::move(ready)]() mutable {
    if (self->state_ == InstanceState::Stopped) return;
    self->sandbox_.reset();
    self->create_sandbox(attempt + 1, std::move(ready));
  });
}

void AppInstance::disable(const std::string& reason) {
  {
    std::lock_guard lock(reason_mutex_);
    disabled_reason_ = reason;
  }
  state_ = InstanceState::Disabled;
  spdlog::error("[app {} team {}] disabled: {}", label_, team_id(), reason);
  on_thread([self = shared_from_this()] { self->sandbox_.reset(); });
}

CallDone AppInstance::observed(const std::string& method, CallDone done) {
  auto& m = metrics_for(method);
  m.calls->inc();
  ++calls_;
  auto started = std::chrono::steady_clock::now();
  return [self = shared_from_this(), &m, started, done = std::move(done), method](CallOutcome outcome) {
    auto wall = std::chrono::steady_clock::now() - started;
    m.duration->observe(std::chrono::duration<double>(wall).count());
    self->charge(outcome, wall);
    if (!outcome.ok()) {
      m.errors->inc();
      if (outcome.failure == Failure::CpuLimit || outcome.failure == Failure::WallLimit) m.timeouts->inc();
      spdlog::warn("[app {} team {}] {} failed: {}", self->label_, self->team_id(), method, outcome.error);
      ++self->failures_;
      self->recent_log_.add("error", method + " failed: " + outcome.error);
    }
    // A failed setupPlugin starts a fresh isolate on its own (retry_setup).
    if (self->sandbox_ && self->sandbox_->broken() && method != "setupPlugin") {
      self->replace_sandbox();
    } else if (self->sandbox_ && ++self->calls_since_heap_sample_ >= kHeapSampleEvery) {
      self->calls_since_heap_sample_ = 0;
      self->heap_gauge_->set(static_cast<double>(self->sandbox_->heap_used_bytes()));
    }
    done(std::move(outcome));
  };
}

void AppInstance::replace_sandbox() {
  if (replacing_) return;
  replacing_ = true;
  state_ = InstanceState::Starting;
  spdlog::error("[app {} team {}] its isolate broke a limit; replacing it", label_, team_id());
  // Not from inside the sandbox's own call stack: on the next turn.
  on_thread([self = shared_from_this()] {
    self->sandbox_.reset();
    self->create_sandbox(1, [self](std::optional<std::string> error) {
      self->replacing_ = false;
      if (!error) spdlog::info("[app {} team {}] isolate replaced", self->label_, self->team_id());
    });
  });
}

void AppInstance::charge(const CallOutcome& outcome, std::chrono::steady_clock::duration wall) {
  CallCost cost;
  if (sandbox_) {
    auto total = sandbox_->time_on_thread();
    cost.thread_time = total - charged_time_;
    charged_time_ = total;
  }
  cost.wall_time = wall;
  cost.error = outcome.failure == Failure::Error;
  cost.limit_broken = outcome.failure == Failure::CpuLimit || outcome.failure == Failure::WallLimit ||
                      outcome.failure == Failure::HeapLimit;
  if (auto t = health_.charge(cost, std::chrono::steady_clock::now())) report(*t);
}

void AppInstance::report(const HealthTransition& t) {
  state_gauges_[t.from]->set(0);
  state_gauges_[t.to]->set(1);
  env_.metrics
      ->counter("plugin_server_app_state_transitions_total", "App instances' health state changes, by the state entered.",
                {{"app", name()}, {"to", health_state_name(t.to)}})
      .inc();
  auto level = t.to == HealthState::healthy ? spdlog::level::info
               : t.to == HealthState::disabled ? spdlog::level::err
                                               : spdlog::level::warn;
  spdlog::log(level, "[app {} team {}] {} -> {}: {}", label_, team_id(), health_state_name(t.from),
              health_state_name(t.to), t.reason);
}

HealthSnapshot AppInstance::health() const { return health_.snapshot(std::chrono::steady_clock::now()); }

bool AppInstance::enable() {
  auto t = health_.enable(std::chrono::steady_clock::now());
  if (t) report(*t);
  return t.has_value();
}

// Runs `start` on the instance's thread if the instance is ready and its
// health admits the call, else fails the call as unavailable or skipped.
void AppInstance::when_ready(CallDone done, std::function<void(CallDone)> start) {
  on_thread([self = shared_from_this(), done = std::move(done), start = std::move(start)]() mutable {
    if (self->stopping_) {
      done({Failure::Unavailable, std::nullopt, self->label_ + " is stopping"});
      return;
    }
    if (self->state_ != InstanceState::Ready || !self->sandbox_) {
      auto why = self->state_ == InstanceState::Disabled      ? " (disabled: " + self->disabled_reason() + ")"
                 : self->state_ == InstanceState::SetupFailed ? " (" + self->disabled_reason() + ")"
                                                              : std::string();
      done({Failure::Unavailable, std::nullopt, self->label_ + " is not running" + why});
      return;
    }
    std::optional<HealthTransition> transition;
    bool admitted = self->health_.admit(std::chrono::steady_clock::now(), &transition);
    if (transition) self->report(*transition);
    if (!admitted) {
      auto health = self->health();
      self->env_.metrics
          ->counter("plugin_server_app_skipped_calls_total", "App calls skipped because of the instance's health.",
                    {{"app", self->name()}, {"state", health_state_name(health.state)}})
          .inc();
      done({Failure::Skipped, std::nullopt,
            self->label_ + " is " + health_state_name(health.state) + ": " + health.reason});
      return;
    }
    start([self, done = std::move(done)](CallOutcome outcome) {
      self->health_.release();
      done(std::move(outcome));
    });
  });
}

void AppInstance::call(const std::string& method, std::vector<std::string> args_json, CallDone done,
                       int capture_hops) {
  when_ready(std::move(done), [this, method, args = std::move(args_json), capture_hops](CallDone d) {
    sandbox_->call(method, args, observed(method, std::move(d)), capture_hops);
  });
}

void AppInstance::process_event(std::string event_json, CallDone done, int capture_hops) {
  when_ready(std::move(done), [this, event = std::move(event_json), capture_hops](CallDone d) {
    sandbox_->process_event(event, observed("processEvent", std::move(d)), capture_hops);
  });
}

void AppInstance::run_job(std::string name, std::optional<std::string> payload_json, CallDone done) {
  when_ready(std::move(done), [this, name = std::move(name), payload = std::move(payload_json)](CallDone d) {
    sandbox_->run_job(name, payload, observed("jobs." + name, std::move(d)));
  });
}

void AppInstance::stop(std::function<void()> done) {
  // Calls still queued fail at once from now on: a backlog of expensive
  // calls cannot hold up a shutdown (their events are read again, their
  // jobs wait for the next daemon).
  stopping_ = true;
  on_thread([self = shared_from_this(), done = std::move(done)]() mutable {
    auto finish = [self, done = std::move(done)](CallOutcome) {
      self->state_ = InstanceState::Stopped;
      // Dispose on the next turn, outside teardownPlugin's own call stack.
      self->on_thread([self, done] {
        self->sandbox_.reset();
        done();
      });
    };
    if (self->state_ == InstanceState::Ready && self->sandbox_ && self->exports_.has("teardownPlugin")) {
      self->sandbox_->call("teardownPlugin", {}, self->observed("teardownPlugin", std::move(finish)));
    } else {
      finish({});
    }
  });
}

}  // namespace ps::runtime
