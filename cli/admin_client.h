#pragma once
// The CLI's side of the admin API: one HTTP/1.1 request at a time to a
// daemon's http://host:port, with the bearer token.

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ps::cli {

// A request that failed: no answer (with why), or an error answer (its
// status, error and details as the admin API gives them).
class AdminError : public std::runtime_error {
 public:
  AdminError(int status, const std::string& error, std::vector<std::string> details = {})
      : std::runtime_error(error), status_(status), details_(std::move(details)) {}
  int status() const { return status_; }  // 0: no answer
  const std::vector<std::string>& details() const { return details_; }

 private:
  int status_;
  std::vector<std::string> details_;
};

class AdminClient {
 public:
  // `url`: http://host[:port]; throws AdminError for anything else.
  AdminClient(const std::string& url, std::string token, std::chrono::seconds timeout = std::chrono::seconds(60));

  // The answer's JSON (null for an empty body) when its status is 2xx;
  // else throws AdminError.
  nlohmann::json call(const std::string& method, const std::string& target, const std::string& body = "",
                      const std::string& content_type = "application/json");

 private:
  std::string host_;
  std::string port_;
  std::string token_;
  std::chrono::seconds timeout_;
};

}  // namespace ps::cli
