#pragma once
// Sets up the process-wide spdlog logger from [log]: level, and "text" or
// "json" (one object per line) written to stderr.

#include "config/config.h"

namespace ps::server {
void configure_logging(const config::LogConfig& log);
}
