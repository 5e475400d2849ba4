#pragma once
// Hiding passwords in connection URLs before they are printed or logged.

#include <cstddef>
#include <string>

namespace ps::config {

// Replaces the password of `scheme://user:password@host...` with "***";
// `authority_start` is where the part after "scheme://" begins.
void redact_userinfo_password(std::string& url, std::size_t authority_start);

// Replaces the value of every `password=` query parameter at or after `from`.
void redact_password_parameters(std::string& url, std::size_t from);

}  // namespace ps::config
