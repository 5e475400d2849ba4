#include "db/session.h"

#include "db/pool.h"

namespace ps::db {

Session::Session(std::string url, std::chrono::milliseconds connect_timeout)
    : url_(with_connect_timeout(url, connect_timeout)) {}

Session::~Session() = default;

pqxx::connection& Session::get() {
  if (conn_ && !conn_->is_open()) conn_.reset();
  if (!conn_) conn_ = std::make_unique<pqxx::connection>(url_);
  return *conn_;
}

void Session::reset() { conn_.reset(); }

}  // namespace ps::db
