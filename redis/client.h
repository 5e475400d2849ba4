#pragma once
// A small pool of Redis connections (hiredis), each owned by its own thread,
// so no caller ever blocks on Redis: `command` queues the command and
// returns; `done` runs later on a pool thread. Connections open on first
// use and reopen after Redis went away; while Redis is unreachable commands
// fail at once with why, instead of each waiting for a connect timeout.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/periodic.h"
#include "config/redis_url.h"
#include "redis/reply.h"

namespace ps::metrics {
class Registry;
}

namespace ps::redis {

struct ClientOptions {
  config::RedisEndpoint endpoint;
  std::string display;  // the URL without its password, for messages
  int connections = 4;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
  std::size_t max_pending = 10000;
  // Once used, Redis is pinged this often, so reachable() follows it even
  // when no app calls.
  std::chrono::milliseconds health_interval{1000};
};

class Client {
 public:
  Client(ClientOptions options, metrics::Registry& metrics);
  // Fails the commands still queued ("shutting down"), then joins.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  using Done = std::function<void(Reply)>;
  // argv[0] is the command name. `done` is called exactly once.
  void command(std::vector<std::string> argv, Done done);

  // Whether any command was sent yet, and whether Redis answered the last
  // command or ping (or the last connection attempt), with why not.
  bool used() const;
  bool reachable(std::string* detail) const;

 private:
  struct Pending;
  struct Connection;
  struct Instruments;
  void run(int index);
  Reply execute(Connection& connection, const std::vector<std::string>& argv);
  void note(bool reachable, const std::string& detail);

  ClientOptions options_;
  std::unique_ptr<Instruments> instruments_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool used_ = false;
  bool reachable_ = true;
  std::string unreachable_detail_;
  std::vector<std::thread> threads_;
  std::unique_ptr<base::Periodic> health_;  // last: stops first
};

}  // namespace ps::redis
