#pragma once
// The subcommands that drive running daemons through the admin API:
//   deploy PATH|BUNDLE --team N [--config key=value ...] [--order K]
//   apps, installs [--team N], logs INSTANCE
//   jobs [--state S] [--instance I] [--limit N], jobs retry ID|--all-failed, jobs cancel ID
// Each takes --url (env PLUGIN_SERVER_URL) and --token (env
// PLUGIN_SERVER_ADMIN_TOKEN). A folder is packed into a .tar.gz here.

#include <memory>
#include <optional>

namespace CLI {
class App;
}

namespace ps::cli {

class AdminCommands {
 public:
  explicit AdminCommands(CLI::App& app);
  ~AdminCommands();
  AdminCommands(const AdminCommands&) = delete;
  AdminCommands& operator=(const AdminCommands&) = delete;

  // After parsing: the exit code of the command chosen, or nullopt when
  // none of these was.
  std::optional<int> run();

 private:
  struct Options;
  std::unique_ptr<Options> o_;
};

}  // namespace ps::cli
