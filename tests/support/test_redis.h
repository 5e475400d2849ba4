#pragma once
// Redis for tests: the URL of the run's shared private server (started by
// the redis.start CTest fixture), a key prefix unique to one test, and a
// direct client that checks what the daemon wrote without going through it.
// A test that stops Redis starts its own server (PrivateRedis).

#include <memory>
#include <string>
#include <vector>

#include "redis/reply.h"
#include "tests/support/temp_dir.h"

struct redisContext;

namespace ps::test {

// $PS_TEST_REDIS_URL, else the url file the fixture's `scripts/redis-local start` wrote.
std::string redis_url();
// A prefix no other test uses, for redis.key_prefix.
std::string unique_redis_prefix();

// A blocking connection, for checks.
class RedisProbe {
 public:
  explicit RedisProbe(const std::string& url = redis_url());
  ~RedisProbe();
  RedisProbe(const RedisProbe&) = delete;
  RedisProbe& operator=(const RedisProbe&) = delete;
  redis::Reply command(const std::vector<std::string>& argv);

 private:
  redisContext* context_ = nullptr;
};

// A redis-server of the test's own, on a socket in a temporary folder,
// that the test may stop and start again at the same address.
class PrivateRedis {
 public:
  PrivateRedis();
  ~PrivateRedis();
  PrivateRedis(const PrivateRedis&) = delete;
  PrivateRedis& operator=(const PrivateRedis&) = delete;
  void start();
  void stop();
  std::string url() const { return "unix://" + socket_; }

 private:
  TempDir dir_;
  std::string socket_;
  int pid_ = -1;
};

}  // namespace ps::test
