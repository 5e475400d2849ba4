#include "cli/commands.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include <CLI/CLI.hpp>

#include "cli/admin_client.h"
#include "runtime/bundle.h"
#include "runtime/tar_gz.h"

namespace ps::cli {

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// Prints rows under headers, each column as wide as its widest cell.
void print_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& h : headers) widths.push_back(h.size());
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(widths[i] - cells[i].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(headers);
  for (const auto& row : rows) line(row);
}

// A JSON value as a table cell: strings as they are, null as "-".
std::string cell(const nlohmann::json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw AdminError(0, path + ": cannot open");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

struct AdminCommands::Options {
  std::string url = "http://127.0.0.1:6738";
  std::string token;
  bool json = false;
  CLI::App* deploy = nullptr;
  CLI::App* apps = nullptr;
  CLI::App* installs = nullptr;
  CLI::App* jobs = nullptr;
  CLI::App* jobs_retry = nullptr;
  CLI::App* jobs_cancel = nullptr;
  CLI::App* logs = nullptr;
  std::string path;
  long long team = -1;
  std::vector<std::string> config;
  std::optional<int> order;
  int wait_seconds = 60;
  std::string state;
  long long instance = -1;
  int limit = 100;
  long long job = -1;
  bool all_failed = false;

  int deploy_app(AdminClient& client);
  int list_apps(AdminClient& client);
  int list_installs(AdminClient& client);
  int list_jobs(AdminClient& client);
  int retry_jobs(AdminClient& client);
  int cancel_job(AdminClient& client);
  int show_logs(AdminClient& client);
};

AdminCommands::AdminCommands(CLI::App& app) : o_(std::make_unique<Options>()) {
  auto& o = *o_;
  auto reach = [&o](CLI::App* command) {
    command->add_option("--url", o.url, "The daemon's admin API (http://host:port)")
        ->envname("PLUGIN_SERVER_URL")
        ->capture_default_str();
    command->add_option("--token", o.token, "The admin token (http.admin_token)")->envname("PLUGIN_SERVER_ADMIN_TOKEN");
    command->add_flag("--json", o.json, "Print the API's JSON answer instead of a table");
    return command;
  };
  o.deploy = reach(app.add_subcommand("deploy", "Upload an app (a folder or .tar.gz) and install it for a team"));
  o.deploy->add_option("path", o.path, "App folder or .tar.gz")->required();
  o.deploy->add_option("--team", o.team, "The team to install it for")->required()->check(CLI::NonNegativeNumber);
  o.deploy->add_option("--config", o.config, "A config value, key=value (repeatable)");
  o.deploy->add_option("--order", o.order, "Its place in the team's chain (lower runs first)");
  o.deploy->add_option("--wait", o.wait_seconds, "Seconds to wait for the daemon to run it (0: do not wait)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  o.apps = reach(app.add_subcommand("apps", "List the uploaded apps"));
  o.installs = reach(app.add_subcommand("installs", "List the installs"));
  o.installs->add_option("--team", o.team, "Only this team's");
  o.jobs = reach(app.add_subcommand("jobs", "List jobs; retry or cancel them"));
  o.jobs->add_option("--state", o.state, "available, running, failed or discarded")
      ->check(CLI::IsMember({"available", "running", "failed", "discarded"}));
  o.jobs->add_option("--instance", o.instance, "Only this app instance's");
  o.jobs->add_option("--limit", o.limit, "How many (newest first)")->capture_default_str()->check(CLI::Range(1, 1000));
  o.jobs_retry = reach(o.jobs->add_subcommand("retry", "Run a failed or discarded job again"));
  o.jobs_retry->add_option("id", o.job, "The job's id");
  o.jobs_retry->add_flag("--all-failed", o.all_failed, "Every failed job (of --instance, if given)");
  o.jobs_retry->add_option("--instance", o.instance, "With --all-failed: only this instance's");
  o.jobs_cancel = reach(o.jobs->add_subcommand("cancel", "Cancel a job that is not running"));
  o.jobs_cancel->add_option("id", o.job, "The job's id")->required();
  o.logs = reach(app.add_subcommand("logs", "Show an instance's recent console lines and failed calls"));
  o.logs->add_option("instance", o.instance, "The instance's id")->required();
}

AdminCommands::~AdminCommands() = default;

std::optional<int> AdminCommands::run() {
  auto& o = *o_;
  using Command = int (Options::*)(AdminClient&);
  std::vector<std::pair<CLI::App*, Command>> commands = {
      {o.deploy, &Options::deploy_app},     {o.apps, &Options::list_apps},
      {o.installs, &Options::list_installs}, {o.jobs_retry, &Options::retry_jobs},
      {o.jobs_cancel, &Options::cancel_job}, {o.jobs, &Options::list_jobs},
      {o.logs, &Options::show_logs}};
  for (auto [command, action] : commands) {
    if (!command->parsed()) continue;
    try {
      AdminClient client(o.url, o.token);
      return (o.*action)(client);
    } catch (const AdminError& e) {
      std::cerr << "plugin-server " << command->get_name() << ": " << e.what() << "\n";
      for (const auto& detail : e.details()) std::cerr << "  " << detail << "\n";
      if (e.status() == 401 || e.status() == 403) std::cerr << "  (give the admin token with --token or PLUGIN_SERVER_ADMIN_TOKEN)\n";
      return kExitFailed;
    } catch (const std::exception& e) {
      std::cerr << "plugin-server " << command->get_name() << ": " << e.what() << "\n";
      return kExitFailed;
    }
  }
  return std::nullopt;
}

int AdminCommands::Options::deploy_app(AdminClient& client) {
  nlohmann::json values = nlohmann::json::object();
  for (const auto& pair : config) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "plugin-server deploy: --config takes key=value, not \"" << pair << "\"\n";
      return kExitUsage;
    }
    values[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  // A folder goes as the daemon would read it (plugin.json checked here first).
  std::string archive = std::filesystem::is_directory(path) ? runtime::pack_tar_gz(runtime::load_bundle(path).files)
                                                            : read_file(path);
  auto stored = client.call("POST", "/admin/apps", archive, "application/gzip");
  std::string app = stored["app"];
  int version = stored["version"];
  std::cout << "uploaded " << app << " version " << version << (stored["created"] == true ? "" : " (stored already)")
            << "\n";

  auto team_text = std::to_string(team);
  auto listed = client.call("GET", "/admin/installs?team_id=" + team_text);
  std::optional<long long> install;
  for (const auto& entry : listed["installs"]) {
    if (entry["app"] == app) install = entry["id"].get<long long>();
  }
  nlohmann::json change = {{"version", version}, {"enabled", true}};
  if (!values.empty()) change["config"] = values;
  if (order) change["order"] = *order;
  nlohmann::json saved;
  if (install) {
    saved = client.call("PATCH", "/admin/installs/" + std::to_string(*install), change.dump());
    std::cout << "install " << *install << " of team " << team << " now runs version " << version << "\n";
  } else {
    change["team_id"] = team;
    change["app"] = app;
    saved = client.call("POST", "/admin/installs", change.dump());
    install = saved["id"].get<long long>();
    std::cout << "installed for team " << team << " as install " << *install << "\n";
  }
  if (wait_seconds == 0) return 0;

  // Until the daemon answering runs this change of it, or says why it cannot.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  while (std::chrono::steady_clock::now() < until) {
    for (const auto& entry : client.call("GET", "/admin/installs?team_id=" + team_text)["installs"]) {
      if (entry["id"] == *install && entry["load_error"].is_string()) {
        std::cerr << "plugin-server deploy: version " << version << " does not run: "
                  << entry["load_error"].get<std::string>() << "\n";
        return kExitFailed;
      }
    }
    auto instances = client.call("GET", "/admin/instances");
    for (const auto& entry : instances["instances"]) {
      if (entry["install_id"] != *install || entry["install_updated_at"] != saved["updated_at"]) continue;
      if (entry["state"] == "ready") {
        std::cout << "running on " << cell(instances["daemon"]) << " as instance " << entry["instance_id"] << "\n";
        return 0;
      }
      if (entry["state"] != "starting") {
        std::cerr << "plugin-server deploy: " << cell(entry["state"]) << ": " << cell(entry["error"]) << "\n";
        return kExitFailed;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  std::cerr << "plugin-server deploy: not running on the daemon after " << wait_seconds << " s\n";
  return kExitFailed;
}

int AdminCommands::Options::list_apps(AdminClient& client) {
  auto answer = client.call("GET", "/admin/apps");
  if (json) return std::cout << answer.dump(2) << "\n", 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : answer["apps"]) rows.push_back({cell(a["app"]), cell(a["latest_version"]), cell(a["versions"])});
  print_table({"APP", "LATEST", "VERSIONS"}, rows);
  return 0;
}

int AdminCommands::Options::list_installs(AdminClient& client) {
  auto answer = client.call("GET", team >= 0 ? "/admin/installs?team_id=" + std::to_string(team) : "/admin/installs");
  if (json) return std::cout << answer.dump(2) << "\n", 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& i : answer["installs"]) {
    rows.push_back({cell(i["id"]), cell(i["team_id"]), cell(i["app"]), cell(i["version"]), cell(i["order"]),
                    i["enabled"] == true ? "yes" : "no", cell(i["load_error"])});
  }
  print_table({"ID", "TEAM", "APP", "VERSION", "ORDER", "ENABLED", "LOAD ERROR"}, rows);
  return 0;
}

int AdminCommands::Options::list_jobs(AdminClient& client) {
  std::string query = "?limit=" + std::to_string(limit);
  if (!state.empty()) query += "&state=" + state;
  if (instance >= 0) query += "&instance=" + std::to_string(instance);
  auto answer = client.call("GET", "/admin/jobs" + query);
  if (json) return std::cout << answer.dump(2) << "\n", 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& j : answer["jobs"]) {
    rows.push_back({cell(j["id"]), cell(j["instance_id"]), cell(j["name"]), cell(j["state"]),
                    cell(j["attempts"]) + "/" + cell(j["max_attempts"]), cell(j["run_at"]), cell(j["last_error"])});
  }
  print_table({"ID", "INSTANCE", "NAME", "STATE", "ATTEMPTS", "RUN AT", "LAST ERROR"}, rows);
  return 0;
}

int AdminCommands::Options::retry_jobs(AdminClient& client) {
  if (all_failed == (job >= 0)) {
    std::cerr << "plugin-server jobs retry: give a job id or --all-failed\n";
    return kExitUsage;
  }
  if (all_failed) {
    nlohmann::json filter = {{"state", "failed"}};
    if (instance >= 0) filter["instance"] = instance;
    std::cout << client.call("POST", "/admin/jobs/retry", filter.dump())["retried"] << " job(s) to run again\n";
  } else {
    client.call("POST", "/admin/jobs/" + std::to_string(job) + "/retry");
    std::cout << "job " << job << " runs again\n";
  }
  return 0;
}

int AdminCommands::Options::cancel_job(AdminClient& client) {
  client.call("DELETE", "/admin/jobs/" + std::to_string(job));
  std::cout << "job " << job << " cancelled\n";
  return 0;
}

int AdminCommands::Options::show_logs(AdminClient& client) {
  auto answer = client.call("GET", "/admin/instances/" + std::to_string(instance) + "/logs");
  if (json) return std::cout << answer.dump(2) << "\n", 0;
  for (const auto& line : answer["lines"]) {
    std::cout << cell(line["at"]) << " " << cell(line["level"]) << " " << cell(line["text"]) << "\n";
  }
  return 0;
}

}  // namespace ps::cli
