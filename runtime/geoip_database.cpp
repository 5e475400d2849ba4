#include "runtime/geoip_database.h"

#include <arpa/inet.h>

#include <maxminddb.h>

#include <cstring>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

#include "runtime/address_policy.h"

namespace ps::runtime {

namespace {

// Records nest a few levels (country -> names); a damaged file could nest
// without end, and the walk below recurses.
constexpr int kMaxDepth = 32;

struct EntryListFree {
  void operator()(MMDB_entry_data_list_s* list) const { MMDB_free_entry_data_list(list); }
};

// Converts the value at `node` into `out` and moves `node` past it; false
// when the list ends early or nests too deep (a damaged file).
bool to_json(MMDB_entry_data_list_s*& node, nlohmann::json& out, int depth) {
  if (!node || depth > kMaxDepth) return false;
  const auto d = node->entry_data;
  node = node->next;
  switch (d.type) {
    case MMDB_DATA_TYPE_MAP:
      out = nlohmann::json::object();
      for (uint32_t i = 0; i < d.data_size; ++i) {
        if (!node || node->entry_data.type != MMDB_DATA_TYPE_UTF8_STRING) return false;
        std::string key(node->entry_data.utf8_string, node->entry_data.data_size);
        node = node->next;
        if (!to_json(node, out[key], depth + 1)) return false;
      }
      return true;
    case MMDB_DATA_TYPE_ARRAY:
      out = nlohmann::json::array();
      for (uint32_t i = 0; i < d.data_size; ++i) {
        out.push_back(nullptr);
        if (!to_json(node, out.back(), depth + 1)) return false;
      }
      return true;
    case MMDB_DATA_TYPE_UTF8_STRING:
      out = std::string(d.utf8_string, d.data_size);
      return true;
    case MMDB_DATA_TYPE_DOUBLE:
      out = d.double_value;
      return true;
    case MMDB_DATA_TYPE_FLOAT:
      out = d.float_value;
      return true;
    case MMDB_DATA_TYPE_UINT16:
      out = d.uint16;
      return true;
    case MMDB_DATA_TYPE_UINT32:
      out = d.uint32;
      return true;
    case MMDB_DATA_TYPE_INT32:
      out = d.int32;
      return true;
    case MMDB_DATA_TYPE_UINT64:
      out = d.uint64;
      return true;
    case MMDB_DATA_TYPE_BOOLEAN:
      out = d.boolean;
      return true;
    default:  // bytes and 128-bit numbers: nothing a City record holds
      out = nullptr;
      return true;
  }
}

// "81.2.69.0/24": the network the lookup matched, from its prefix length in
// the database's (IPv6) tree.
std::string network_of(const std::string& ip, int prefix, bool ipv6_tree) {
  unsigned char bytes[16] = {};
  bool v4 = inet_pton(AF_INET, ip.c_str(), bytes) == 1;
  if (!v4 && inet_pton(AF_INET6, ip.c_str(), bytes) != 1) return "";
  int bits = v4 ? 32 : 128;
  if (v4 && ipv6_tree) prefix -= 96;
  prefix = std::max(0, std::min(prefix, bits));
  for (int i = 0; i < bits / 8; ++i) {
    int keep = std::max(0, std::min(8, prefix - i * 8));
    bytes[i] &= static_cast<unsigned char>(0xff << (8 - keep));
  }
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(v4 ? AF_INET : AF_INET6, bytes, text, sizeof text);
  return std::string(text) + "/" + std::to_string(prefix);
}

}  // namespace

GeoIpDatabase::GeoIpDatabase(const std::string& path) : db_(std::make_unique<MMDB_s>()) {
  int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, db_.get());
  if (status != MMDB_SUCCESS) {
    std::string why = status == MMDB_IO_ERROR ? std::string(MMDB_strerror(status)) + ": " + std::strerror(errno)
                                              : MMDB_strerror(status);
    db_.reset();
    throw std::runtime_error("geoip.mmdb_path " + path + ": " + why);
  }
}

GeoIpDatabase::~GeoIpDatabase() {
  if (db_) MMDB_close(db_.get());
}

std::string GeoIpDatabase::type() const { return db_->metadata.database_type; }

GeoIpResult GeoIpDatabase::locate(const std::string& ip) const {
  GeoIpResult result;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(ip, ec);
  if (ec) {
    result.error = "\"" + ip.substr(0, 64) + "\" is not an IP address";
    return result;
  }
  // Private, loopback and other special addresses are nowhere.
  if (AddressPolicy::special_use(address)) return result;
  int gai_error = 0, mmdb_error = 0;
  auto found = MMDB_lookup_string(db_.get(), ip.c_str(), &gai_error, &mmdb_error);
  if (gai_error != 0 || mmdb_error != MMDB_SUCCESS) {
    result.error = gai_error != 0 ? std::string(gai_strerror(gai_error)) : MMDB_strerror(mmdb_error);
    return result;
  }
  if (!found.found_entry) return result;
  MMDB_entry_data_list_s* raw = nullptr;
  int status = MMDB_get_entry_data_list(&found.entry, &raw);
  std::unique_ptr<MMDB_entry_data_list_s, EntryListFree> list(raw);
  nlohmann::json record;
  if (status != MMDB_SUCCESS || !list) {
    result.error = std::string("the database is damaged: ") + MMDB_strerror(status);
    return result;
  }
  auto* node = list.get();
  if (!to_json(node, record, 0)) {
    result.error = "the database is damaged: a record ends early";
    return result;
  }
  nlohmann::json out = {{"record", std::move(record)},
                        {"network", network_of(ip, found.netmask, db_->metadata.ip_version == 6)}};
  result.json = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return result;
}

}  // namespace ps::runtime
