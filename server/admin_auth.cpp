#include "server/admin_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace ps::server {

namespace {

HttpResponse error(int status, const std::string& message) {
  std::string body = "{\"error\":\"" + message + "\"}";
  return {status, "application/json", body};
}

// Compares in time that depends on neither text: digests of equal length,
// compared without an early exit.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

}  // namespace

AdminAuth::AdminAuth(std::string token) : token_(std::move(token)) {}

std::optional<HttpResponse> AdminAuth::refusal(const HttpRequest& request) const {
  if (token_.empty()) {
    return error(403, "the admin endpoints are off: set http.admin_token (or PLUGIN_SERVER_HTTP_ADMIN_TOKEN) "
                      "and send Authorization: Bearer <token>");
  }
  auto header = request.headers.find("authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (header == request.headers.end() || header->second.rfind(kScheme, 0) != 0) {
    return error(401, "send Authorization: Bearer <http.admin_token>");
  }
  if (!same_secret(header->second.substr(kScheme.size()), token_)) return error(401, "wrong admin token");
  return std::nullopt;
}

}  // namespace ps::server
