// meta.geoip.locate on a MaxMind DB file in the GeoIP2 City schema, built for
// the test by scripts/geoip-sample-db (the same file scripts/dev uses).

#include <catch2/catch.hpp>

#include "tests/support/process.h"
#include "tests/support/runtime_harness.h"

using ps::test::RuntimeHarness;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string sample_database(const ps::test::TempDir& dir) {
  auto path = (dir.path() / "sample-city.mmdb").string();
  auto made = ps::test::run_to_end({ps::test::source_dir() + "/scripts/geoip-sample-db", path});
  INFO(made.output);
  REQUIRE(made.code == 0);
  return path;
}

// The app returns, per address, the record or the error.
const char* kLocator = R"(
  export async function processEvent(e, { geoip }) {
    const out = {}
    for (const ip of e.properties.ips) {
      try { out[ip] = await geoip.locate(ip) } catch (err) { out[ip] = err.name + ': ' + err.message }
    }
    e.properties.out = out
    const london = out['81.2.69.160']
    if (london && typeof london === 'object') {
      // The database's own field names read as well, without being listed.
      e.properties.aliases = [london.country.iso_code, london.location.time_zone, london.registered_country.iso_code,
                              Object.keys(london.country).includes('iso_code')]
    }
    return e
  })";

json locate(RuntimeHarness& h, const json& ips) {
  auto event = json{{"event", "e"}, {"team_id", 1}, {"properties", {{"ips", ips}}}};
  return h.run_chain(1, event.dump())["event"]["properties"];
}

}  // namespace

TEST_CASE("geoip: a known address has the City record apps read, unknown and private ones are null", "[runtime][geoip]") {
  ps::test::TempDir dir;
  auto options = RuntimeHarness::fast_options();
  options.geoip_mmdb_path = sample_database(dir);
  RuntimeHarness h(options);
  h.load({RuntimeHarness::entry(h.write_app("geo", {{"index.js", kLocator}}), {1})});
  auto got = locate(h, {"81.2.69.160", "2001:218:1::1", "::ffff:216.160.83.60", "8.8.8.8", "10.1.2.3", "127.0.0.1",
                        "::1", "192.168.0.1", "not-an-ip"});
  auto out = got["out"];
  auto london = out["81.2.69.160"];
  CHECK(london["city"]["names"]["en"] == "London");
  CHECK(london["city"]["geonameId"] == 2643743);
  CHECK(london["country"] == json::parse(R"({"geonameId":2635167,"isoCode":"GB",
                                             "names":{"en":"United Kingdom","de":"Vereinigtes Königreich"}})"));
  CHECK(london["continent"]["code"] == "EU");
  CHECK(london["location"] == json::parse(R"({"accuracyRadius":10,"latitude":51.5142,"longitude":-0.0931,
                                              "timeZone":"Europe/London"})"));
  CHECK(london["postal"]["code"] == "EC1A");
  CHECK(london["subdivisions"] == json::parse(R"([{"geonameId":6269131,"isoCode":"ENG","names":{"en":"England"}}])"));
  CHECK(london["registeredCountry"]["isoCode"] == "GB");
  CHECK(london["traits"] == json::parse(R"({"ipAddress":"81.2.69.160","network":"81.2.69.0/24"})"));
  CHECK(got["aliases"] == json::parse(R"(["GB","Europe/London","GB",false])"));

  CHECK(out["2001:218:1::1"]["country"]["isoCode"] == "JP");
  CHECK(out["2001:218:1::1"]["country"]["names"]["ja"] == "日本");
  CHECK(out["2001:218:1::1"]["traits"]["network"] == "2001:218::/32");
  CHECK(out["2001:218:1::1"].contains("city") == false);
  // An IPv4 address written as IPv6 finds its IPv4 entry.
  CHECK(out["::ffff:216.160.83.60"]["subdivisions"][0]["isoCode"] == "WA");
  for (const char* nowhere : {"8.8.8.8", "10.1.2.3", "127.0.0.1", "::1", "192.168.0.1"}) {
    INFO(nowhere);
    CHECK(out[nowhere] == nullptr);
  }
  CHECK(out["not-an-ip"] == "TypeError: meta.geoip.locate: \"not-an-ip\" is not an IP address");
}

TEST_CASE("geoip: without a database meta.geoip.locate rejects saying which setting is missing", "[runtime][geoip]") {
  RuntimeHarness h;
  h.load({RuntimeHarness::entry(h.write_app("geo", {{"index.js", kLocator}}), {1})});
  CHECK(locate(h, {"81.2.69.160"})["out"]["81.2.69.160"] ==
        "Error: meta.geoip is not available here: the daemon has no GeoIP database (geoip.mmdb_path)");
}

TEST_CASE("geoip: a missing or unreadable database stops start-up naming it", "[daemon][geoip]") {
  ps::test::TempDir dir;
  auto missing = (dir.path() / "nowhere.mmdb").string();
  auto refused = ps::test::run_to_end({ps::test::daemon_binary(), "print-config"}, {{"MMDB_FILE_LOCATION", missing}});
  CHECK(refused.code == 2);
  CHECK(refused.output.find("geoip.mmdb_path") != std::string::npos);
  CHECK(refused.output.find("cannot read \"" + missing + "\"") != std::string::npos);

  auto not_a_database = dir.write("text.mmdb", "this is not a MaxMind DB file").string();
  ps::test::TestDatabase db;
  auto started = ps::test::run_to_end({ps::test::daemon_binary()},
                                      {{"DATABASE_URL", db.url()},
                                       {"PLUGIN_SERVER_HTTP_LISTEN", "127.0.0.1:0"},
                                       {"PLUGIN_SERVER_GEOIP_MMDB_PATH", not_a_database}},
                                      30s);
  CHECK(started.code == 1);
  CHECK(started.output.find("geoip.mmdb_path " + not_a_database + ": ") != std::string::npos);
}
