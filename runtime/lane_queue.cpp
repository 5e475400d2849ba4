#include "runtime/lane_queue.h"

#include <algorithm>

namespace ps::runtime {

namespace {
// std::push_heap makes a max-heap: compare backwards for the least used first.
bool later(const std::pair<std::chrono::nanoseconds, std::int64_t>& a,
           const std::pair<std::chrono::nanoseconds, std::int64_t>& b) {
  return a > b;
}
}  // namespace

void LaneQueue::make_ready(std::int64_t id, Lane& lane) {
  lane.used = std::max(lane.used, floor_);
  lane.ready = true;
  ready_.emplace_back(lane.used, id);
  std::push_heap(ready_.begin(), ready_.end(), later);
}

void LaneQueue::push(std::int64_t id, Task task) {
  auto& lane = lanes_[id];
  lane.tasks.push_back(std::move(task));
  ++size_;
  if (!lane.ready && !lane.running) make_ready(id, lane);
}

std::pair<std::int64_t, LaneQueue::Task> LaneQueue::pop() {
  std::pop_heap(ready_.begin(), ready_.end(), later);
  auto id = ready_.back().second;
  ready_.pop_back();
  auto& lane = lanes_[id];
  lane.ready = false;
  lane.running = true;
  floor_ = std::max(floor_, lane.used);
  auto task = std::move(lane.tasks.front());
  lane.tasks.pop_front();
  --size_;
  return {id, std::move(task)};
}

void LaneQueue::charge(std::int64_t id, std::chrono::nanoseconds used) {
  auto& lane = lanes_[id];
  lane.running = false;
  lane.used += used;
  if (!lane.tasks.empty()) make_ready(id, lane);
}

}  // namespace ps::runtime
