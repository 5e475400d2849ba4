#pragma once
// A fresh, empty database on the private test cluster for one test, dropped
// afterwards, so tests can run in parallel without seeing each other's rows.

#include <string>

namespace ps::test {

// URL of the test cluster's main database: $PS_TEST_DATABASE_URL, else the
// url file that the CTest fixture's `scripts/pg-cluster start` wrote.
std::string cluster_url();

class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::string url_;
};

}  // namespace ps::test
