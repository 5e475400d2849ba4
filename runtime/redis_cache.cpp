#include "runtime/redis_cache.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "redis/client.h"

namespace ps::runtime {

namespace {

struct Allowed {
  std::string_view space;
  std::string_view verb;
};

// The commands behind meta.cache and meta.utils.cursor, each on one key.
constexpr std::array<Allowed, 12> kAllowed{{
    {"cache", "GET"}, {"cache", "SET"}, {"cache", "INCR"}, {"cache", "EXPIRE"}, {"cache", "LPUSH"},
    {"cache", "LRANGE"}, {"cache", "LLEN"}, {"cache", "LPOP"}, {"cache", "LREM"},
    {"cursor", "SETNX"}, {"cursor", "INCRBY"}, {"cursor", "GET"},
}};

}  // namespace

std::string RedisCache::scoped_key(InstanceId instance, const std::string& space, const std::string& key) const {
  return prefix_ + "app:" + std::to_string(instance) + ":" + space + ":" + key;
}

void RedisCache::run(InstanceId instance, CacheCommand command, std::function<void(redis::Reply)> done) {
  bool allowed = std::any_of(kAllowed.begin(), kAllowed.end(), [&](const Allowed& a) {
    return a.space == command.space && a.verb == command.verb;
  });
  if (!allowed) return done(redis::Reply::error("the command " + command.verb + " is not allowed"));
  std::vector<std::string> argv;
  argv.reserve(command.args.size() + 2);
  argv.push_back(std::move(command.verb));
  argv.push_back(scoped_key(instance, command.space, command.key));
  for (auto& a : command.args) argv.push_back(std::move(a));
  client_.command(std::move(argv), std::move(done));
}

}  // namespace ps::runtime
