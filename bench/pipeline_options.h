#pragma once
// The benchmarks' pipeline: INPUT to OUTPUT in a fresh consumer group of
// its own (so it reads from the start), dead letters beside the output.

#include <string>

#include "ingestion/event_pipeline.h"

namespace ps::bench {

inline ingestion::PipelineOptions pipeline_options(const std::string& bootstrap, const std::string& input,
                                                   const std::string& output) {
  ingestion::PipelineOptions o;
  o.brokers = bootstrap;
  o.group_id = "bench-" + output;
  o.input_topic = input;
  o.output_topic = output;
  o.dlq_topic = output + "-dlq";
  o.session_timeout_ms = 6000;
  return o;
}

}  // namespace ps::bench
