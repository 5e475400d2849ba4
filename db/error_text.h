#pragma once
// libpq's messages end in newlines; one-line logs and errors want them without.

#include <exception>
#include <string>

namespace ps::db {
std::string error_text(const std::exception& e);
}
