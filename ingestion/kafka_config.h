#pragma once
// Sets one librdkafka property, or throws naming the property and
// librdkafka's reason, so a bad setting stops start-up instead of being
// ignored.

#include <string>

#include <librdkafka/rdkafkacpp.h>

namespace ps::ingestion {

void set_property(RdKafka::Conf& conf, const std::string& name, const std::string& value);

}  // namespace ps::ingestion
