#pragma once
// A Unix-socket relay in front of the test Postgres, so a test can take
// Postgres away from one client (a daemon, a queue) and give it back, while
// the cluster goes on serving every other test.

#include <memory>
#include <string>

#include "tests/support/temp_dir.h"

namespace ps::test {

class PostgresProxy {
 public:
  // Relays to the cluster of `database_url` (a URL with host=<socket dir>).
  explicit PostgresProxy(const std::string& database_url);
  ~PostgresProxy();
  PostgresProxy(const PostgresProxy&) = delete;
  PostgresProxy& operator=(const PostgresProxy&) = delete;

  // `database_url`, reached through the relay.
  const std::string& url() const { return url_; }
  // Down: open connections are cut and new ones closed at once. Up: relayed again.
  void set_up(bool up);
  // Connections accepted while up, since the start.
  int connections() const;

 private:
  struct Relay;
  TempDir dir_;
  std::string url_;
  std::unique_ptr<Relay> relay_;
};

}  // namespace ps::test
