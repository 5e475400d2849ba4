#pragma once
// What Postgres' jsonb refuses, caught before it reaches a batch: one bad
// row would fail the whole statement, every other app's jobs with it.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ps::scheduler {

// Why Postgres cannot store the JSON text `json` as jsonb (a \u0000 escape,
// an unpaired surrogate escape), or nullopt.
std::optional<std::string> jsonb_refuses(std::string_view json);

// `text` made storable in a jsonb string: NUL characters and invalid UTF-8
// become U+FFFD, and it is cut to `max_bytes` (on a character boundary).
std::string storable_text(std::string_view text, std::size_t max_bytes = 8 * 1024);

}  // namespace ps::scheduler
