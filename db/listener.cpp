#include "db/listener.h"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "db/error_text.h"
#include "db/session.h"

namespace ps::db {

namespace {

// Keeps each payload heard until the loop hands them on together.
class Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& conn, const std::string& channel, std::vector<std::string>& payloads)
      : pqxx::notification_receiver(conn, channel), payloads_(payloads) {}
  void operator()(const std::string& payload, int) override { payloads_.push_back(payload); }

 private:
  std::vector<std::string>& payloads_;
};

}  // namespace

Listener::Listener(ListenerOptions options, Heard heard)
    : options_(std::move(options)), heard_(std::move(heard)), thread_([this] { loop(); }) {}

Listener::~Listener() {
  stopping_ = true;
  thread_.join();
}

void Listener::loop() {
  using Clock = std::chrono::steady_clock;
  Session session(options_.url, std::chrono::seconds(5));
  bool reported = false;
  while (!stopping_) {
    try {
      auto& conn = session.get();
      std::vector<std::string> payloads;
      Receiver receiver(conn, options_.channel, payloads);
      reported = false;
      heard_({});
      auto looked = Clock::now();
      while (!stopping_) {
        // Short waits, so a stop is seen within 200 ms.
        conn.await_notification(0, 200000);
        bool idle = options_.idle_interval.count() > 0 && Clock::now() - looked >= options_.idle_interval;
        if (payloads.empty() && !idle) continue;
        auto batch = std::move(payloads);
        payloads.clear();
        heard_(batch);
        looked = Clock::now();
      }
    } catch (const std::exception& e) {
      session.reset();
      if (!reported) spdlog::error("{}: LISTEN connection lost, reconnecting: {}", options_.label, error_text(e));
      reported = true;
      for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

}  // namespace ps::db
