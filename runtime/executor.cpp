#include "runtime/executor.h"

#include <pthread.h>

#include <spdlog/spdlog.h>

namespace ps::runtime {

Executor::Executor(int threads, const std::string& name) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) {
    auto worker = std::make_unique<Worker>();
    Worker* w = worker.get();
    worker->thread = std::thread([this, w] { run(*w); });
    pthread_setname_np(worker->thread.native_handle(), (name + "-" + std::to_string(i)).substr(0, 15).c_str());
    workers_.push_back(std::move(worker));
  }
  timer_thread_ = std::thread([this] { run_timers(); });
}

Executor::~Executor() {
  {
    std::lock_guard lock(timer_mutex_);
    timers_stopping_ = true;
  }
  timer_wake_.notify_all();
  timer_thread_.join();
  for (auto& w : workers_) {
    {
      std::lock_guard lock(w->mutex);
      w->stopping = true;
    }
    w->wake.notify_all();
  }
  for (auto& w : workers_) w->thread.join();
}

void Executor::post(int index, Task task, std::int64_t lane) {
  auto& w = *workers_[static_cast<std::size_t>(index) % workers_.size()];
  {
    std::lock_guard lock(w.mutex);
    w.queue.push(lane, std::move(task));
  }
  w.wake.notify_one();
}

void Executor::post_any(Task task) {
  std::size_t best = 0, best_depth = SIZE_MAX;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    std::lock_guard lock(workers_[i]->mutex);
    if (workers_[i]->queue.size() < best_depth) {
      best = i;
      best_depth = workers_[i]->queue.size();
    }
  }
  post(static_cast<int>(best), std::move(task));
}

void Executor::post_after(std::chrono::milliseconds delay, int index, Task task, std::int64_t lane) {
  {
    std::lock_guard lock(timer_mutex_);
    timers_.emplace(std::chrono::steady_clock::now() + delay, Timer{index, lane, std::move(task)});
  }
  timer_wake_.notify_all();
}

void Executor::run(Worker& w) {
  std::unique_lock lock(w.mutex);
  for (;;) {
    w.wake.wait(lock, [&] { return w.stopping || !w.queue.empty(); });
    if (w.queue.empty()) return;  // stopping, and everything queued has run
    auto [lane, task] = w.queue.pop();
    lock.unlock();
    auto started = std::chrono::steady_clock::now();
    try {
      task();
    } catch (const std::exception& e) {
      // Tasks report their own errors; one escaping here is a bug, not a reason to die.
      spdlog::error("executor: a task threw: {}", e.what());
    }
    // Destroyed outside the lock too: a task's captures may post.
    task = nullptr;
    auto used = std::chrono::steady_clock::now() - started;
    lock.lock();
    w.queue.charge(lane, used);
  }
}

void Executor::run_timers() {
  std::unique_lock lock(timer_mutex_);
  while (!timers_stopping_) {
    if (timers_.empty()) {
      timer_wake_.wait(lock);
      continue;
    }
    auto due = timers_.begin()->first;
    if (std::chrono::steady_clock::now() < due) {
      timer_wake_.wait_until(lock, due);
      continue;
    }
    auto timer = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    lock.unlock();
    post(timer.index, std::move(timer.task), timer.lane);
    lock.lock();
  }
}

}  // namespace ps::runtime
