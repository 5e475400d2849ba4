#pragma once
// Runs the plugin-server binary (or another program) as a child process, with
// a controlled environment and its output captured in a file.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ps::test {

// Path of the built daemon binary.
std::string daemon_binary();
// The source tree's root.
std::string source_dir();

class Process {
 public:
  // Starts `argv`; the environment is the test's own without any
  // PLUGIN_SERVER_* or established override names, plus the run's private
  // Redis (PLUGIN_SERVER_REDIS_URL and a key prefix of its own, unless `env`
  // sets them), plus `env`.
  Process(std::vector<std::string> argv, const std::map<std::string, std::string>& env = {});
  ~Process();  // kills the child if it still runs
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void signal(int sig);
  // Exit code (128 + signal when killed by one), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  // stdout and stderr so far.
  std::string output() const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string output_path_;
};

// Runs to completion (at most `timeout`) and returns {exit code, output}.
struct Completed {
  int code;
  std::string output;
};
Completed run_to_end(std::vector<std::string> argv, const std::map<std::string, std::string>& env = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Polls until GET host:port/path answers `status`, or the deadline passes.
bool wait_for_http_status(int port, const std::string& path, int status, std::chrono::milliseconds timeout);

}  // namespace ps::test
