#pragma once
// Postgres connection URLs: postgresql://[user[:password]@][host][:port][/dbname][?params]

#include <optional>
#include <string>

namespace ps::config {

// Why `url` is not a usable Postgres URL, or nullopt when it is.
std::optional<std::string> database_url_problem(const std::string& url);

// The URL with its password (in the userinfo or a `password` parameter) replaced by "***".
std::string redact_database_url(const std::string& url);

}  // namespace ps::config
