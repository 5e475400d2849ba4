#pragma once
// One long-lived Postgres connection for one thread of work (a queue's
// claimer, its notifier...), opened on first use and reopened after it broke.

#include <chrono>
#include <memory>
#include <string>

#include <pqxx/connection>

namespace ps::db {

class Session {
 public:
  Session(std::string url, std::chrono::milliseconds connect_timeout);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The open connection; connects first if needed (throws when it cannot).
  pqxx::connection& get();
  // Forgets the connection after a failure, so the next get() reconnects.
  void reset();

 private:
  std::string url_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace ps::db
