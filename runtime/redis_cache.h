#pragma once
// meta.cache and meta.utils.cursor on Redis. Every key is placed under the
// instance's own prefix (<redis.key_prefix>app:<instance id>:<space>:<key>), and only the
// commands the prelude uses pass, so no app can name another's keys or run
// anything else on the shared Redis.

#include "runtime/host_services.h"

namespace ps::redis {
class Client;
}

namespace ps::runtime {

class RedisCache : public Cache {
 public:
  // `prefix` goes before every key (redis.key_prefix).
  RedisCache(redis::Client& client, std::string prefix) : client_(client), prefix_(std::move(prefix)) {}
  void run(InstanceId instance, CacheCommand command, std::function<void(redis::Reply)> done) override;

  // The Redis key of `key` in `space` for `instance`.
  std::string scoped_key(InstanceId instance, const std::string& space, const std::string& key) const;

 private:
  redis::Client& client_;
  std::string prefix_;
};

}  // namespace ps::runtime
