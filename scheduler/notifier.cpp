#include "scheduler/notifier.h"

#include <algorithm>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "db/error_text.h"
#include "db/session.h"
#include "scheduler/sql.h"

namespace ps::scheduler {

namespace {

class Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& conn, const Notifier::Handler& handler)
      : pqxx::notification_receiver(conn, sql::kChannel), handler_(handler) {}
  void operator()(const std::string& payload, int) override {
    long long ms = 0;
    try {
      ms = std::stoll(payload);
    } catch (const std::exception&) {
      // Unknown payload: treat the jobs as due now.
    }
    // A job due past tomorrow is found again by a later poll; a time that
    // far out would not fit the clock.
    using namespace std::chrono;
    long long tomorrow = duration_cast<milliseconds>((system_clock::now() + hours(24)).time_since_epoch()).count();
    handler_(system_clock::time_point(milliseconds(std::clamp(ms, 0LL, tomorrow))));
  }

 private:
  const Notifier::Handler& handler_;
};

}  // namespace

Notifier::Notifier(std::string database_url, Handler handler)
    : url_(std::move(database_url)), handler_(std::move(handler)), thread_([this] { loop(); }) {}

Notifier::~Notifier() {
  stopping_ = true;
  thread_.join();
}

void Notifier::loop() {
  db::Session session(url_, std::chrono::seconds(5));
  bool reported = false;
  while (!stopping_) {
    try {
      auto& conn = session.get();
      Receiver receiver(conn, handler_);
      // After (re)connecting, jobs may have arrived unheard: look now.
      handler_(std::chrono::system_clock::time_point());
      reported = false;
      while (!stopping_) conn.await_notification(0, 200000);
    } catch (const std::exception& e) {
      session.reset();
      if (!reported) spdlog::error("jobs: LISTEN connection lost, reconnecting: {}", db::error_text(e));
      reported = true;
      for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

}  // namespace ps::scheduler
