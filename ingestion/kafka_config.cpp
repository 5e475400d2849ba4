#include "ingestion/kafka_config.h"

#include <stdexcept>

namespace ps::ingestion {

void set_property(RdKafka::Conf& conf, const std::string& name, const std::string& value) {
  std::string error;
  if (conf.set(name, value, error) != RdKafka::Conf::CONF_OK) {
    throw std::runtime_error("kafka: cannot set " + name + ": " + error);
  }
}

}  // namespace ps::ingestion
