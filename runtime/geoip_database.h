#pragma once
// meta.geoip on a MaxMind DB file (GeoLite2 or GeoIP2 City, or any database
// in that format), read with libmaxminddb. The file is memory-mapped once
// and shared by every thread; lookups do not block.

#include <memory>
#include <string>

#include "runtime/host_services.h"

struct MMDB_s;

namespace ps::runtime {

class GeoIpDatabase : public GeoIp {
 public:
  // Opens `path`; throws std::runtime_error naming it and saying why not.
  explicit GeoIpDatabase(const std::string& path);
  ~GeoIpDatabase() override;
  GeoIpDatabase(const GeoIpDatabase&) = delete;
  GeoIpDatabase& operator=(const GeoIpDatabase&) = delete;

  GeoIpResult locate(const std::string& ip) const override;
  // The database's type from its metadata ("GeoIP2-City", "GeoLite2-City", ...).
  std::string type() const;

 private:
  std::unique_ptr<MMDB_s> db_;
};

}  // namespace ps::runtime
