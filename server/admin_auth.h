#pragma once
// Who may use /admin/* and /apps: a client that sends
// `Authorization: Bearer <http.admin_token>`. Without a token configured
// the admin endpoints are off (403, saying how to turn them on), so a
// daemon is never open by default.

#include <optional>
#include <string>

#include "server/http_server.h"

namespace ps::server {

class AdminAuth {
 public:
  explicit AdminAuth(std::string token);
  // nullopt when the request may go on; else the answer to send.
  std::optional<HttpResponse> refusal(const HttpRequest& request) const;

 private:
  std::string token_;
};

}  // namespace ps::server
