#pragma once
// Reading the admin API's path segments and query strings.

#include <optional>
#include <string>

namespace ps::server {

// A non-negative id from a path segment or query value.
std::optional<long long> id_of(const std::string& text);

// `name`'s value in a query string (no percent-decoding: ids and words only).
std::optional<std::string> query_value(const std::string& query, const std::string& name);

}  // namespace ps::server
