#pragma once
// The admin API of a daemon under test: requests with the tests' token, and
// bundles packed as a user packs them.

#include <string>
#include <utility>

namespace ps::test {

inline const std::string kAdminToken = "a-test-token-of-some-length";

// One request to a daemon on 127.0.0.1:`port`: {status, body}. Throws when
// no HTTP answer came.
std::pair<int, std::string> admin_call(int port, const std::string& method, const std::string& path,
                                       const std::string& body = "", bool authorized = true);

// `folder` packed as a .tar.gz by the system's tar.
std::string pack_folder(const std::string& folder);

}  // namespace ps::test
