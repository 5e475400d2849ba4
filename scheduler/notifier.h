#pragma once
// LISTENs on the job channel (db::Listener) and reports when jobs may be
// due: the earliest run_at among the notifications heard (a commit of new
// jobs carries its earliest in the payload), or now after a reconnect.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace ps::db {
class Listener;
}

namespace ps::scheduler {

class Notifier {
 public:
  using Handler = std::function<void(std::chrono::system_clock::time_point earliest)>;
  Notifier(std::string database_url, Handler handler);
  ~Notifier();

 private:
  std::unique_ptr<db::Listener> listener_;
};

}  // namespace ps::scheduler
