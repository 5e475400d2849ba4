#pragma once
// Development only: produces a few made-up events per second into the input
// topic, so a fresh `scripts/dev` shows events flowing through the apps.

#include <memory>
#include <string>

namespace ps::ingestion {

class SampleEvents {
 public:
  SampleEvents(const std::string& brokers, const std::string& topic, int per_second);
  ~SampleEvents();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ps::ingestion
