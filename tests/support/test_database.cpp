#include "tests/support/test_database.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>

#include <pqxx/pqxx>

namespace ps::test {

std::string cluster_url() {
  if (const char* env = std::getenv("PS_TEST_DATABASE_URL"); env && *env) return env;
  std::ifstream file(PS_TEST_CLUSTER_URL_FILE);
  std::string url;
  if (!std::getline(file, url) || url.empty()) {
    throw std::runtime_error(std::string("no test Postgres: set PS_TEST_DATABASE_URL or run the "
                                         "postgres.start fixture (no url in ") + PS_TEST_CLUSTER_URL_FILE + ")");
  }
  return url;
}

namespace {

// Replaces the database name (the path after the authority) of a URL.
std::string with_database(const std::string& url, const std::string& name) {
  auto authority_end = url.find_first_of("/?", url.find("://") + 3);
  if (authority_end == std::string::npos) return url + "/" + name;
  auto query = url.find('?', authority_end);
  return url.substr(0, authority_end) + "/" + name + (query == std::string::npos ? "" : url.substr(query));
}

}  // namespace

TestDatabase::TestDatabase() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  name_ = "test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + std::to_string(rd() % 100000);
  pqxx::connection admin(cluster_url());
  pqxx::nontransaction tx(admin);
  tx.exec0("CREATE DATABASE " + tx.quote_name(name_));
  url_ = with_database(cluster_url(), name_);
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(cluster_url());
    pqxx::nontransaction tx(admin);
    tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (...) {
    // The cluster is thrown away after the run anyway.
  }
}

}  // namespace ps::test
