#include "tests/support/admin_api.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

namespace ps::test {

std::pair<int, std::string> admin_call(int port, const std::string& method, const std::string& path,
                                       const std::string& body, bool authorized) {
  auto reply = http_raw("127.0.0.1", port,
                        method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                            (authorized ? "Authorization: Bearer " + kAdminToken + "\r\n" : std::string()) +
                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  if (reply.size() <= 12 || reply.rfind("HTTP/1.1 ", 0) != 0) {
    throw std::runtime_error(method + " " + path + ": no HTTP answer: " + reply.substr(0, 300));
  }
  auto at = reply.find("\r\n\r\n");
  return {std::stoi(reply.substr(9, 3)), at == std::string::npos ? "" : reply.substr(at + 4)};
}

std::string pack_folder(const std::string& folder) {
  TempDir dir;
  auto archive = (dir.path() / "app.tar.gz").string();
  if (std::system(("tar -czf '" + archive + "' -C '" + folder + "' .").c_str()) != 0) {
    throw std::runtime_error("tar could not pack " + folder);
  }
  std::ifstream in(archive, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace ps::test
