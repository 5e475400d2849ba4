#pragma once
// One-line text of a database error: libpq's messages end in newlines, and
// a lost connection is named as such.

#include <exception>
#include <string>

namespace ps::db {
std::string error_text(const std::exception& e);
}
