// GeoDatabase: a MaxMind DB file (GeoLite2/GeoIP2, DB-IP, or Meridian's own country database)
// read through libmaxminddb: single lookups and a walk over every network in the file.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "geo/geo_point.h"

struct MMDB_s;

namespace meridian::geo {

// What a database says about one network. Codes are as stored (upper case): continent "EU",
// country "DE", subdivision "BY" (the first, most general subdivision; ISO 3166-2 without the
// country prefix). Empty when the database has no such field.
struct GeoInfo {
  bool found = false;  // false: the address is in no network with data
  std::string continent;
  std::string country;
  std::string subdivision;
  std::optional<LatLon> location;  // the database's own coordinates, if it has any
  // Prefix length of the network that matched (IPv4 addresses in IPv4 terms, 0..32), also when
  // nothing was found: the answer holds for that whole prefix (the ECS scope).
  int prefix_len = 0;

  // "US-CA" (ISO 3166-2), or empty without a subdivision.
  std::string subdivision_code() const;
};

// A network of the database: address family, address in network byte order (4 or 16 bytes used)
// and prefix length in that family's terms.
struct GeoNetwork {
  bool ipv6 = false;
  std::uint8_t address[16] = {};
  int prefix_len = 0;

  std::string to_string() const;  // "192.0.2.0/24", "2001:db8::/32"
};

class GeoDatabase {
 public:
  // Opens the file; the error names the file and libmaxminddb's reason.
  static Result<GeoDatabase> open(const std::string& path);

  GeoDatabase(GeoDatabase&&) noexcept;
  GeoDatabase& operator=(GeoDatabase&&) noexcept;
  GeoDatabase(const GeoDatabase&) = delete;
  GeoDatabase& operator=(const GeoDatabase&) = delete;
  ~GeoDatabase();

  // Looks up a textual IPv4 or IPv6 address (no host names). IPv4-mapped IPv6 addresses are
  // looked up as IPv4. An IPv6 address in an IPv4-only database is an error.
  Result<GeoInfo> lookup(std::string_view address) const;
  // The same for a binary address in network byte order (4 or 16 bytes).
  Result<GeoInfo> lookup(const std::uint8_t* address, bool ipv6) const;

  // Calls `visit` for every network that has data, in address order, IPv4 networks once and as
  // IPv4 (the IPv6 aliases of the IPv4 space, ::ffff:0:0/96 and 6to4/Teredo, are skipped).
  // Stops early and returns false when `visit` returns false.
  using NetworkVisitor = std::function<bool(const GeoNetwork&, const GeoInfo&)>;
  Result<bool> for_each_network(const NetworkVisitor& visit) const;
  // Every leaf of the search tree, empty ones included (GeoInfo.found false), in address order:
  // disjoint networks that cover IPv4 (as IPv4) and IPv6 except the subtrees lookup() never
  // reads for IPv6 addresses: ::ffff:0:0/96 (looked up as IPv4), the aliases of the IPv4 tree
  // (6to4, Teredo) and ::/96 when it roots the IPv4 tree (reported as IPv4). lookup() of any
  // address in a network gives its GeoInfo (found, codes, location, prefix_len). A leaf that
  // contains ::ffff:0:0/96 is reported as the pieces around it; one above ::/96 (the IPv4 tree
  // ends early) is also reported as 0.0.0.0/0.
  Result<bool> for_each_leaf(const NetworkVisitor& visit) const;

  const std::string& path() const { return path_; }
  std::string database_type() const;  // metadata database_type, e.g. "GeoLite2-City"
  int ip_version() const;             // 4 or 6
  std::uint64_t build_epoch() const;  // metadata build time, seconds since 1970

 private:
  GeoDatabase(std::string path, std::unique_ptr<MMDB_s> db);
  Result<bool> walk(const NetworkVisitor& visit, bool leaves) const;
  void close();

  std::string path_;
  std::unique_ptr<MMDB_s> db_;
};

}  // namespace meridian::geo
