#pragma once
// A hiredis reply as a Reply: for the client and for tests that talk to
// Redis directly.

#include "redis/reply.h"

struct redisReply;

namespace ps::redis {

// Strings and statuses are text; nil elements of an array are nullopt, and
// nested arrays (no command of the daemon answers them) are nil too.
Reply flatten(const redisReply& reply);

}  // namespace ps::redis
