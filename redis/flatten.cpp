#include "redis/flatten.h"

#include <hiredis/hiredis.h>

namespace ps::redis {

Reply flatten(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_INTEGER:
      out.kind = Reply::Kind::Integer;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      out.kind = Reply::Kind::Text;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out = Reply::error(std::string(r.str, r.len));
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = Reply::Kind::List;
      for (std::size_t i = 0; i < r.elements; ++i) {
        const redisReply* e = r.element[i];
        if (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) {
          out.list.emplace_back(std::string(e->str, e->len));
        } else if (e->type == REDIS_REPLY_INTEGER) {
          out.list.emplace_back(std::to_string(e->integer));
        } else {
          out.list.emplace_back(std::nullopt);
        }
      }
      break;
    default:
      break;  // nil
  }
  return out;
}

}  // namespace ps::redis
