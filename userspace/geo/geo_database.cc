// GeoDatabase over libmaxminddb: lookups, and a depth-first walk of the search tree that reports
// every network once (IPv4 space as IPv4) and decodes each distinct data record only once.
#include "geo/geo_database.h"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

namespace meridian::geo {
namespace {

std::string get_string(MMDB_entry_s* entry, const char* const* path) {
  MMDB_entry_data_s data{};
  if (MMDB_aget_value(entry, &data, path) != MMDB_SUCCESS || !data.has_data ||
      data.type != MMDB_DATA_TYPE_UTF8_STRING)
    return {};
  return std::string(data.utf8_string, data.data_size);
}

std::optional<double> get_double(MMDB_entry_s* entry, const char* const* path) {
  MMDB_entry_data_s data{};
  if (MMDB_aget_value(entry, &data, path) != MMDB_SUCCESS || !data.has_data) return std::nullopt;
  if (data.type == MMDB_DATA_TYPE_DOUBLE) return data.double_value;
  if (data.type == MMDB_DATA_TYPE_FLOAT) return static_cast<double>(data.float_value);
  return std::nullopt;
}

// The fields Meridian uses, by their GeoIP2 names (DB-IP and our own database use the same).
GeoInfo decode(MMDB_entry_s entry) {
  static const char* const kContinent[] = {"continent", "code", nullptr};
  static const char* const kCountry[] = {"country", "iso_code", nullptr};
  static const char* const kRegistered[] = {"registered_country", "iso_code", nullptr};
  static const char* const kSubdivision[] = {"subdivisions", "0", "iso_code", nullptr};
  static const char* const kLatitude[] = {"location", "latitude", nullptr};
  static const char* const kLongitude[] = {"location", "longitude", nullptr};
  GeoInfo info;
  info.found = true;
  info.continent = get_string(&entry, kContinent);
  info.country = get_string(&entry, kCountry);
  // Networks without a located country (anycast, satellite) still name where they are
  // registered; that is a better guess than nothing.
  if (info.country.empty()) info.country = get_string(&entry, kRegistered);
  info.subdivision = get_string(&entry, kSubdivision);
  const auto lat = get_double(&entry, kLatitude);
  const auto lon = get_double(&entry, kLongitude);
  if (lat && lon) {
    LatLon p{*lat, *lon};
    if (is_valid(p)) info.location = p;
  }
  return info;
}

// The IPv4 prefix length of a netmask from an IPv6 database, or the mask itself.
int family_prefix(const MMDB_s& db, bool ipv6, int netmask) {
  if (!ipv6 && db.metadata.ip_version == 6) return netmask >= 96 ? netmask - 96 : 0;
  return netmask;
}

}  // namespace

std::string GeoInfo::subdivision_code() const {
  if (subdivision.empty() || country.empty()) return {};
  return country + "-" + subdivision;
}

std::string GeoNetwork::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, address, text, sizeof text);
  return fmt::format("{}/{}", text, prefix_len);
}

GeoDatabase::GeoDatabase(std::string path, std::unique_ptr<MMDB_s> db)
    : path_(std::move(path)), db_(std::move(db)) {}

GeoDatabase::GeoDatabase(GeoDatabase&&) noexcept = default;

GeoDatabase& GeoDatabase::operator=(GeoDatabase&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    db_ = std::move(other.db_);
  }
  return *this;
}

GeoDatabase::~GeoDatabase() {
  close();
}

void GeoDatabase::close() {
  if (db_) {
    MMDB_close(db_.get());
    db_.reset();
  }
}

Result<GeoDatabase> GeoDatabase::open(const std::string& path) {
  auto db = std::make_unique<MMDB_s>();
  const int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, db.get());
  if (status != MMDB_SUCCESS) {
    std::string reason = MMDB_strerror(status);
    if (status == MMDB_IO_ERROR || status == MMDB_FILE_OPEN_ERROR)
      reason += fmt::format(" ({})", std::strerror(errno));
    return make_error("cannot open geolocation database: " + reason, path);
  }
  return GeoDatabase(path, std::move(db));
}

std::string GeoDatabase::database_type() const {
  return db_->metadata.database_type ? db_->metadata.database_type : "";
}

int GeoDatabase::ip_version() const {
  return db_->metadata.ip_version;
}

std::uint64_t GeoDatabase::build_epoch() const {
  return db_->metadata.build_epoch;
}

Result<GeoInfo> GeoDatabase::lookup(std::string_view address) const {
  const std::string text(address);
  std::uint8_t bytes[16] = {};
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) return lookup(bytes, false);
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) return lookup(bytes, true);
  return make_error(fmt::format("'{}' is not an IPv4 or IPv6 address", text), path_);
}

Result<GeoInfo> GeoDatabase::lookup(const std::uint8_t* address, bool ipv6) const {
  static const std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (ipv6 && std::memcmp(address, kMapped, sizeof kMapped) == 0) {
    address += 12;
    ipv6 = false;
  }
  sockaddr_storage storage{};
  if (ipv6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
    sin6->sin6_family = AF_INET6;
    std::memcpy(&sin6->sin6_addr, address, 16);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
    sin->sin_family = AF_INET;
    std::memcpy(&sin->sin_addr, address, 4);
  }
  int mmdb_error = MMDB_SUCCESS;
  MMDB_lookup_result_s result =
      MMDB_lookup_sockaddr(db_.get(), reinterpret_cast<const sockaddr*>(&storage), &mmdb_error);
  if (mmdb_error != MMDB_SUCCESS)
    return make_error(fmt::format("lookup failed: {}", MMDB_strerror(mmdb_error)), path_);
  GeoInfo info;
  if (result.found_entry) info = decode(result.entry);
  info.prefix_len = family_prefix(*db_, ipv6, result.netmask);
  return info;
}

Result<bool> GeoDatabase::for_each_network(const NetworkVisitor& visit) const {
  return walk(visit, false);
}

Result<bool> GeoDatabase::for_each_leaf(const NetworkVisitor& visit) const {
  return walk(visit, true);
}

Result<bool> GeoDatabase::walk(const NetworkVisitor& visit, bool leaves) const {
  const MMDB_s& db = *db_;
  const std::uint32_t node_count = db.metadata.node_count;
  const bool v6_tree = db.metadata.ip_version == 6;
  const int depth_max = v6_tree ? 128 : 32;

  // The node at ::/96 roots the IPv4 space in an IPv6 tree; any other path that reaches it is
  // an alias (::ffff:0:0/96, 2002::/16, ...) and is skipped.
  std::uint64_t ipv4_root = UINT64_MAX;
  if (v6_tree) {
    std::uint64_t node = 0;
    int depth = 0;
    for (; depth < 96 && node < node_count; ++depth) {
      MMDB_search_node_s sn{};
      if (MMDB_read_node(&db, static_cast<std::uint32_t>(node), &sn) != MMDB_SUCCESS) break;
      if (sn.left_record_type != MMDB_RECORD_TYPE_SEARCH_NODE) break;
      node = sn.left_record;
    }
    if (depth == 96) ipv4_root = node;
  }

  // Explicit stack (no recursion): search nodes to expand and leaves to report. Right is pushed
  // before left so that networks come out in address order.
  struct Pending {
    std::uint64_t node = 0;
    int depth = 0;
    bool leaf = false;
    bool empty = false;  // a leaf without data (only when walking leaves)
    MMDB_entry_s entry{};
    std::uint8_t address[16] = {};
  };
  std::vector<Pending> stack;
  stack.push_back(Pending{});
  std::unordered_map<std::uint32_t, GeoInfo> decoded;  // data offset -> fields
  auto zero_prefix = [](const std::uint8_t* a) {
    return std::all_of(a, a + 12, [](std::uint8_t b) { return b == 0; });
  };
  // ::ffff:0:0/96: lookup() answers these addresses from the IPv4 tree, never from this one.
  static const std::uint8_t kMapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  auto bit_of = [](const std::uint8_t* a, int i) { return (a[i / 8] >> (7 - i % 8)) & 1; };
  auto within_mapped = [&](const std::uint8_t* a, int depth) {  // first `depth` bits agree
    for (int i = 0; i < depth; ++i)
      if (bit_of(a, i) != bit_of(kMapped, i)) return false;
    return true;
  };

  while (!stack.empty()) {
    const Pending at = stack.back();
    stack.pop_back();
    if (at.leaf) {
      GeoInfo info;
      if (!at.empty) {
        auto it = decoded.find(at.entry.offset);
        if (it == decoded.end()) it = decoded.emplace(at.entry.offset, decode(at.entry)).first;
        info = it->second;
      }
      GeoNetwork net;
      if (!v6_tree) {
        std::memcpy(net.address, at.address, 4);
        net.prefix_len = at.depth;
      } else if (at.depth >= 96 && zero_prefix(at.address)) {
        std::memcpy(net.address, at.address + 12, 4);
        net.prefix_len = at.depth - 96;
      } else {
        std::memcpy(net.address, at.address, 16);
        net.prefix_len = at.depth;
        net.ipv6 = true;
      }
      if (leaves && net.ipv6 && zero_prefix(at.address)) {
        // A leaf above ::/96: the IPv4 tree ends in it, and IPv4 lookups stop there with no
        // IPv4 bits read (prefix length 0).
        GeoNetwork v4;
        info.prefix_len = 0;
        if (!visit(v4, info)) return false;
      }
      if (leaves && net.ipv6 && at.depth < 96 && within_mapped(at.address, at.depth)) {
        // The leaf holds ::ffff:0:0/96: report the pieces around it, in address order (those
        // where the mapped prefix has a 1 bit lie below it, those where it has a 0 above).
        for (int pass = 0; pass < 2; ++pass) {
          for (int k = 0; k < 96 - at.depth; ++k) {
            const int j = pass == 0 ? at.depth + k : 95 - k;
            if (bit_of(kMapped, j) != (pass == 0 ? 1 : 0)) continue;
            GeoNetwork piece;
            piece.ipv6 = true;
            piece.prefix_len = j + 1;
            for (int i = 0; i <= j; ++i)
              if (bit_of(kMapped, i) != (i == j))
                piece.address[i / 8] |= static_cast<std::uint8_t>(0x80u >> (i % 8));
            info.prefix_len = at.depth;
            if (!visit(piece, info)) return false;
          }
        }
        continue;
      }
      info.prefix_len = net.prefix_len;
      if (!visit(net, info)) return false;
      continue;
    }
    if (at.depth >= depth_max)
      return make_error(fmt::format("search tree deeper than {} bits", depth_max), path_);
    MMDB_search_node_s sn{};
    const int status = MMDB_read_node(&db, static_cast<std::uint32_t>(at.node), &sn);
    if (status != MMDB_SUCCESS)
      return make_error(fmt::format("reading search node {}: {}", at.node, MMDB_strerror(status)),
                        path_);
    const struct {
      std::uint64_t record;
      std::uint8_t type;
      MMDB_entry_s entry;
      bool one;
    } sides[2] = {{sn.right_record, sn.right_record_type, sn.right_record_entry, true},
                  {sn.left_record, sn.left_record_type, sn.left_record_entry, false}};
    for (const auto& side : sides) {
      Pending next;
      std::memcpy(next.address, at.address, sizeof next.address);
      next.depth = at.depth + 1;
      if (side.one)
        next.address[at.depth / 8] |= static_cast<std::uint8_t>(0x80u >> (at.depth % 8));
      if (v6_tree && next.depth == 96 && std::memcmp(next.address, kMapped, 16) == 0)
        continue;  // ::ffff:0:0/96, whatever the tree holds there
      if (side.type == MMDB_RECORD_TYPE_SEARCH_NODE) {
        const bool ipv4_path = next.depth == 96 && zero_prefix(next.address);
        if (side.record == ipv4_root && !ipv4_path) continue;  // an alias of the IPv4 space
        next.node = side.record;
        stack.push_back(next);
      } else if (side.type == MMDB_RECORD_TYPE_DATA) {
        next.leaf = true;
        next.entry = side.entry;
        stack.push_back(next);
      } else if (side.type == MMDB_RECORD_TYPE_EMPTY) {
        if (leaves) {
          next.leaf = true;
          next.empty = true;
          stack.push_back(next);
        }
      } else {
        return make_error(fmt::format("invalid record in search node {}", at.node), path_);
      }
    }
  }
  return true;
}

}  // namespace meridian::geo
