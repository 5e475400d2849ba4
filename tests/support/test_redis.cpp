#include "tests/support/test_redis.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <hiredis/hiredis.h>

#include "config/redis_url.h"
#include "redis/flatten.h"

namespace ps::test {

std::string redis_url() {
  if (const char* env = std::getenv("PS_TEST_REDIS_URL"); env && *env) return env;
  std::ifstream file(PS_TEST_REDIS_URL_FILE);
  std::string url;
  if (!std::getline(file, url) || url.empty()) {
    throw std::runtime_error(std::string("no test Redis: set PS_TEST_REDIS_URL or run the redis.start fixture (no url in ") +
                             PS_TEST_REDIS_URL_FILE + ")");
  }
  return url;
}

std::string unique_redis_prefix() {
  static std::atomic<int> counter{0};
  return "test-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ":";
}

RedisProbe::RedisProbe(const std::string& url) {
  auto parsed = config::parse_redis_url(url);
  auto* endpoint = std::get_if<config::RedisEndpoint>(&parsed);
  if (!endpoint) throw std::runtime_error("bad Redis URL " + url);
  context_ = endpoint->socket_path.empty() ? redisConnect(endpoint->host.c_str(), endpoint->port)
                                           : redisConnectUnix(endpoint->socket_path.c_str());
  if (!context_ || context_->err) {
    throw std::runtime_error("cannot reach Redis at " + url + ": " + (context_ ? context_->errstr : "no memory"));
  }
}

RedisProbe::~RedisProbe() { redisFree(context_); }

redis::Reply RedisProbe::command(const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<std::size_t> lengths;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(context_, static_cast<int>(args.size()), args.data(), lengths.data()));
  if (!r) throw std::runtime_error(std::string("Redis: ") + context_->errstr);
  redis::Reply out = redis::flatten(*r);
  freeReplyObject(r);
  return out;
}

PrivateRedis::PrivateRedis() : socket_((dir_.path() / "redis.sock").string()) { start(); }

PrivateRedis::~PrivateRedis() { stop(); }

void PrivateRedis::start() {
  if (pid_ > 0) return;
  std::filesystem::remove(socket_);
  pid_ = fork();
  if (pid_ == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", socket_.c_str(), "--save", "",
           "--appendonly", "no", "--dir", dir_.path().c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 200 && !std::filesystem::exists(socket_); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!std::filesystem::exists(socket_)) throw std::runtime_error("redis-server did not start (is it installed?)");
}

void PrivateRedis::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace ps::test
