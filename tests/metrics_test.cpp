#include <catch2/catch.hpp>

#include "metrics/process_metrics.h"
#include "metrics/registry.h"

using ps::metrics::Registry;

TEST_CASE("metrics: counters, gauges and histograms render in Prometheus text format", "[metrics]") {
  Registry r;
  r.counter("jobs_total", "Jobs.", {{"app", "a\"b"}}).inc(2);
  r.counter("jobs_total", "Jobs.", {{"app", "a\"b"}}).inc();
  r.gauge("depth", "Depth.").set(4.5);
  auto& h = r.histogram("lag_seconds", "Lag.", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  auto text = r.render();
  CHECK(text.find("# TYPE jobs_total counter\njobs_total{app=\"a\\\"b\"} 3\n") != std::string::npos);
  CHECK(text.find("depth 4.5\n") != std::string::npos);
  CHECK(text.find("lag_seconds_bucket{le=\"0.10000000000000001\"} 1\n") != std::string::npos);
  CHECK(text.find("lag_seconds_bucket{le=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("lag_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("lag_seconds_count 3\n") != std::string::npos);
  CHECK(text.find("lag_seconds_sum 5.5499999999999998\n") != std::string::npos);
}

TEST_CASE("metrics: one name cannot have two types", "[metrics]") {
  Registry r;
  r.counter("x", "X.");
  CHECK_THROWS_AS(r.gauge("x", "X."), std::logic_error);
}

TEST_CASE("metrics: process metrics read /proc", "[metrics]") {
  Registry r;
  ps::metrics::add_process_metrics(r);
  auto text = r.render();
  CHECK(text.find("process_resident_memory_bytes ") != std::string::npos);
  CHECK(text.find("process_open_fds ") != std::string::npos);
  CHECK(text.find("process_resident_memory_bytes 0\n") == std::string::npos);
}
