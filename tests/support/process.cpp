#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "config/config.h"
#include "tests/support/http_client.h"
#include "tests/support/test_redis.h"

namespace ps::test {

std::string daemon_binary() { return PS_DAEMON_BINARY; }
std::string source_dir() { return PS_SOURCE_DIR; }

namespace {

bool is_override_name(const std::string& name) {
  static const char* established[] = {"DATABASE_URL", "KAFKA_HOSTS", "KAFKA_CONSUMPTION_TOPIC",
                                      "TASK_TIMEOUT", "WORKER_CONCURRENCY", "LOG_LEVEL", "REDIS_URL"};
  if (name.rfind("PLUGIN_SERVER_", 0) == 0) return true;
  for (const char* e : established) {
    if (name == e) return true;
  }
  return false;
}

}  // namespace

Process::Process(std::vector<std::string> argv, const std::map<std::string, std::string>& env) {
  char path[] = "/tmp/plugin-server-test-output.XXXXXX";
  int out = mkstemp(path);
  if (out < 0) throw std::runtime_error("mkstemp failed");
  output_path_ = path;

  std::vector<std::string> env_entries;
  for (const auto& [k, v] : config::process_environment()) {
    if (!is_override_name(k)) env_entries.push_back(k + "=" + v);
  }
  // The run's private Redis, on keys of this process's own, unless the test
  // names another.
  if (!env.count("PLUGIN_SERVER_REDIS_URL")) {
    env_entries.push_back("PLUGIN_SERVER_REDIS_URL=" + redis_url());
    if (!env.count("PLUGIN_SERVER_REDIS_KEY_PREFIX")) {
      env_entries.push_back("PLUGIN_SERVER_REDIS_KEY_PREFIX=" + unique_redis_prefix());
    }
  }
  for (const auto& [k, v] : env) env_entries.push_back(k + "=" + v);

  std::vector<char*> args, envp;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  for (auto& e : env_entries) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    // The test runner may block signals; the child must start clean.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(args[0], args.data(), envp.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(out);
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
  unlink(output_path_.c_str());
}

void Process::signal(int sig) {
  if (!status_) ::kill(pid_, sig);
}

bool Process::running() {
  if (status_) return false;
  int raw = 0;
  if (waitpid(pid_, &raw, WNOHANG) == pid_) {
    status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    return false;
  }
  return true;
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

std::string Process::output() const {
  std::ifstream in(output_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Completed run_to_end(std::vector<std::string> argv, const std::map<std::string, std::string>& env,
                     std::chrono::milliseconds timeout) {
  Process p(std::move(argv), env);
  auto code = p.wait(timeout);
  if (!code) throw std::runtime_error("command did not finish in time; output:\n" + p.output());
  return {*code, p.output()};
}

bool wait_for_http_status(int port, const std::string& path, int status, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (http_get("127.0.0.1", port, path).status == status) return true;
    } catch (const std::exception&) {
      // not listening yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace ps::test
