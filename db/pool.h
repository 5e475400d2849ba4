#pragma once
// A fixed-size pool of Postgres connections. Connections open lazily, and one
// found broken is dropped on return and replaced by the next acquire.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/connection>


namespace ps::db {

class PoolTimeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Pool {
 public:
  Pool(std::string url, int size, std::chrono::milliseconds connect_timeout);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A connection borrowed from the pool; returned when it goes out of scope.
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<pqxx::connection> conn);
    Lease(Lease&&) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& operator*() const { return *conn_; }
    pqxx::connection* operator->() const { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
  };

  // Waits up to `wait` for a free slot, then connects if the slot has no
  // connection yet. Throws PoolTimeout, or pqxx::broken_connection when
  // Postgres cannot be reached.
  Lease acquire(std::chrono::milliseconds wait = std::chrono::seconds(10));

  int size() const { return size_; }
  const std::string& url() const { return url_; }

 private:
  void give_back(std::unique_ptr<pqxx::connection> conn);

  const std::string url_;
  const int size_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  int leased_ = 0;
};

// `url` with libpq's connect_timeout set, unless it has one already.
std::string with_connect_timeout(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace ps::db
