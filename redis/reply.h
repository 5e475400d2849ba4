#pragma once
// A Redis reply, flattened to what the daemon's commands answer.

#include <optional>
#include <string>
#include <vector>

namespace ps::redis {

struct Reply {
  enum class Kind { Nil, Integer, Text, List, Error };
  Kind kind = Kind::Nil;
  long long integer = 0;
  std::string text;                              // Text, or the Error's message
  std::vector<std::optional<std::string>> list;  // List (nil elements are nullopt)

  static Reply error(std::string message) {
    Reply r;
    r.kind = Kind::Error;
    r.text = std::move(message);
    return r;
  }
};

}  // namespace ps::redis
