#include "db/pool.h"

#include <pqxx/pqxx>

namespace ps::db {

std::string with_connect_timeout(const std::string& url, std::chrono::milliseconds timeout) {
  if (url.find("connect_timeout=") != std::string::npos) return url;
  // libpq takes whole seconds and treats values under 2 as 2.
  auto seconds = std::max<long long>(2, (timeout.count() + 999) / 1000);
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  return url + sep + "connect_timeout=" + std::to_string(seconds);
}

Pool::Pool(std::string url, int size, std::chrono::milliseconds connect_timeout)
    : url_(with_connect_timeout(url, connect_timeout)), size_(size) {}

Pool::~Pool() = default;

Pool::Lease::Lease(Pool* pool, std::unique_ptr<pqxx::connection> conn)
    : pool_(pool), conn_(std::move(conn)) {}

Pool::Lease::Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {
  other.pool_ = nullptr;
}

Pool::Lease::~Lease() {
  if (pool_) pool_->give_back(std::move(conn_));
}

Pool::Lease Pool::acquire(std::chrono::milliseconds wait) {
  std::unique_ptr<pqxx::connection> conn;
  {
    std::unique_lock lock(mutex_);
    if (!available_.wait_for(lock, wait, [&] { return !idle_.empty() || leased_ < size_; })) {
      throw PoolTimeout("no Postgres connection free after " + std::to_string(wait.count()) +
                        " ms (pool size " + std::to_string(size_) + ")");
    }
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
    ++leased_;
  }
  if (!conn) {
    try {
      conn = std::make_unique<pqxx::connection>(url_);
    } catch (...) {
      give_back(nullptr);
      throw;
    }
  }
  return Lease(this, std::move(conn));
}

void Pool::give_back(std::unique_ptr<pqxx::connection> conn) {
  {
    std::lock_guard lock(mutex_);
    --leased_;
    if (conn && conn->is_open()) idle_.push_back(std::move(conn));
  }
  available_.notify_one();
}

}  // namespace ps::db
