// meridiand's configuration file: the JSON format of docs/configuration.md, parsed and validated
// into plain values. Every error names the file and a line:column (syntax) or JSON path (fields).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "config/server_settings.h"
#include "dns/name.h"
#include "health/health_check_config.h"

namespace meridian::config {

enum class ZoneFormat : uint8_t { kRfc1035, kRoute53Json };

struct ZoneSource {
  dns::Name origin;
  ZoneFormat format = ZoneFormat::kRfc1035;
  std::string file;       // resolved against the config file's directory
  std::string json_path;  // "/zones/3", for errors that concern the entry itself
};

struct EdnsSettings {
  uint16_t udp_payload = 1232;
  std::optional<std::string> nsid;
};

// The XDP fast path ("xdp" key; absent: userspace only).
struct XdpSettings {
  std::vector<std::string> interfaces;  // attach to each
  std::string mode = "auto";            // native | generic | auto (native, else generic + warning)
  std::string pin_dir = "/sys/fs/bpf/meridian/default";  // maps pinned here, per instance
  uint32_t max_names = 1u << 20;  // per name size class; beyond it: userspace
  bool keep_on_exit = false;      // "on_exit": "keep" leaves the program answering
  // Seconds without meridiand's heartbeat after which the program passes every query up (a dead
  // daemon's answers and health are frozen); 0: never. Applied on reload too.
  uint32_t stale_after = 30;
};

// Where scripts/setup.sh builds the country database from tor-geoipdb (docs/geolocation.md).
inline constexpr const char* kDefaultGeoIpDatabase = "/var/lib/meridian/geoip/country.mmdb";
// The daemon's state directory; health states persist here unless "health.state_db" says otherwise.
inline constexpr const char* kDefaultStateDirectory = "/var/lib/meridian";
inline constexpr const char* kDefaultHealthStateDb = "/var/lib/meridian/health-state.db";

// "geoip": which MaxMind DB answers "where is this client".
struct GeoIpSettings {
  std::string database;     // resolved path; empty: none (or the default, see below)
  bool configured = false;  // "geoip.database" was given (a string or null)
};

// "health": where states persist and who hears about transitions.
struct HealthSettings {
  std::string state_db = kDefaultHealthStateDb;  // empty ("state_db": null): not persisted
  bool state_db_configured = false;   // given explicitly; otherwise the state database keeps them
  std::vector<std::string> webhooks;  // http:// or https:// URLs
};

// One block of a CIDR collection ("cidr_collections": {ID: {LOCATION: [CIDR, ...]}}).
struct CidrBlockConfig {
  std::string prefix;  // canonical text, e.g. "198.18.0.0/24"
  std::string location;
};

// One row of the operator latency table CSV ("latency_table": {"file": ...}).
struct LatencyRow {
  std::string prefix;  // canonical text
  std::string region;
  uint32_t ms = 0;
};

// "regions": {NAME: {"latitude", "longitude"}}: operator regions beside the built-in ones.
struct RegionConfig {
  std::string name;
  double latitude = 0;
  double longitude = 0;
};

// "all_down": what a group answers when every candidate is unhealthy (spec "All down").
enum class AllDownMode : uint8_t { kFailOpen, kNoData, kServFail };
struct AllDownConfig {
  dns::Name name;  // the group's owner (absolute)
  uint16_t type = 0;
  AllDownMode mode = AllDownMode::kFailOpen;
  std::string json_path;  // "/all_down/2", for errors found against the zones
};

// The durable state database (docs/operations.md, "Durable state").
inline constexpr const char* kDefaultStateDatabase = "/var/lib/meridian/state.db";
inline constexpr const char* kDefaultControlSocket = "/run/meridian/control.sock";

// "state": zones, record sets, health checks and their states in one SQLite database.
struct StateSettings {
  std::string database = kDefaultStateDatabase;  // empty ("database": null): no database, the
                                                 // config file is the only source, API read-only
};

// "control": the control API (docs/operations.md, "Control API").
struct ControlSettings {
  std::string socket = kDefaultControlSocket;  // empty ("socket": null): no Unix socket
  std::string listen;      // "127.0.0.1:8053": also over TCP (bearer token required)
  std::string token_file;  // resolved path; the token is its first line (required with listen)
  uint32_t max_body_bytes = 16u << 20;
  // "tls": {"certificate", "key"}: PEM files (resolved paths); TCP is then HTTPS only.
  std::string tls_cert_file;
  std::string tls_key_file;
  bool insecure = false;  // allow a non-loopback "listen" without TLS (warned at each start)
  // Slow or idle clients: a whole request within request_timeout_ms; at most max_connections
  // (each listener), max_connections_per_source from one /24 (IPv4) or /56 (IPv6).
  uint32_t max_connections = 64;
  uint32_t max_connections_per_source = 8;
  uint32_t request_timeout_ms = 10000;
};
inline constexpr size_t kMinControlTokenLength = 16;

// "metrics": the Prometheus text endpoint on its own TCP address (also GET /metrics on the
// control API).
struct MetricsSettings {
  std::string listen;  // empty: only on the control API
};

// "query_log": Route 53-format query log lines (docs/operations.md, "Query logging").
struct QueryLogSettings {
  std::string file;           // resolved path; empty: no query log
  uint32_t xdp_sample = 100;  // log one XDP answer in N (0: none); userspace answers: all
  std::string edge_location;  // the log's edge-location field; empty: the host name
  bool operator==(const QueryLogSettings&) const = default;
};

// "cluster": this edge is one of a fleet sharing zones, changes and health through etcd
// (docs/fleet.md). Absent: single-host mode.
struct ClusterSettings {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379" | "https://..."
  std::string ca_file;                 // resolved paths; empty: not used
  std::string cert_file;
  std::string key_file;
  std::string username;
  std::string password_file;          // the password is its first line (not readable by others)
  std::string prefix = "/meridian/";  // every key is below it; ends with "/"
  std::string edge;                   // this edge's name, unique in the fleet
  std::string vantage;                // its vantage label (e.g. its region); empty: the name
  uint32_t lease_ttl_s = 10;          // observations and the edge record live this long unrenewed
  double healthy_fraction = 0.18;     // healthy when more than this share of observers say so
  bool operator==(const ClusterSettings&) const = default;
};

struct DaemonConfig {
  std::string source;  // the config file as named on the command line
  std::vector<ListenAddress> listen;
  uint32_t workers = 0;  // 0 = one per core
  EdnsSettings edns;
  TcpSettings tcp;
  std::string log_level = "info";
  std::vector<ZoneSource> zones;
  std::optional<XdpSettings> xdp;
  RrlSettings rrl;

  // GSLB inputs (docs/configuration.md, "GSLB").
  GeoIpSettings geoip;
  // Inline checks, or the contents of "health_checks": {"file": ...} once load_daemon_config()
  // (or load_referenced_files()) has read it.
  std::vector<health::HealthCheckConfig> health_checks;
  std::vector<nlohmann::json> health_check_objects;  // the same checks as given (for the state db)
  std::string health_checks_file;  // resolved path; empty when the checks are inline
  // One line per Route 53 field the checks carried and that is ignored (read-only or not
  // applicable: health::IgnoredFields), for the daemon to log once per load.
  std::vector<std::string> health_check_warnings;
  HealthSettings health;
  std::string latency_table_file;         // resolved path; empty: no operator latency table
  std::vector<LatencyRow> latency_table;  // read from latency_table_file
  std::vector<RegionConfig> regions;
  std::map<std::string, std::vector<CidrBlockConfig>> cidr_collections;  // by collection id
  std::vector<AllDownConfig> all_down;  // groups not listed fail open

  // Operations.
  StateSettings state;
  ControlSettings control;
  MetricsSettings metrics;
  QueryLogSettings query_log;
  std::optional<ClusterSettings> cluster;
};

// Where health states persist: "health.state_db" when given, else the state database, else the
// built-in default file. Empty: not persisted.
std::string effective_health_state_db(const DaemonConfig& config);
// The control token: the first line of control.token_file (empty when no file is set), trimmed;
// refused when shorter than kMinControlTokenLength or when the file is readable by others.
Result<std::string> read_control_token(const DaemonConfig& config);
// A file holding a secret (token, TLS key): a regular file of at most 1 MiB that neither group
// nor others can read or write. `what` names it in errors.
Result<std::string> read_secret_file(const std::string& path, std::string_view what);

// The GeoIP database the daemon opens: the configured one, else the setup-built default when that
// file exists, else empty (no database: geolocation answers fall to the '*' record sets).
std::string effective_geoip_database(const DaemonConfig& config);

// Reads and validates the file at `path`, then the files it references (health checks, latency
// table). Relative paths are resolved against its directory.
Result<DaemonConfig> load_daemon_config(const std::string& path);
// Same from text, without reading any referenced file; `source_name` is used in errors,
// `base_dir` resolves relative paths.
Result<DaemonConfig> parse_daemon_config(std::string_view text, std::string_view source_name,
                                         std::string_view base_dir);
// Reads and validates the health-check file and the latency table a parsed config names.
// Errors name the file and the JSON path (checks) or line (latency table).
Status load_referenced_files(DaemonConfig& config);

// True for the level names the config and --log-level accept: trace|debug|info|warn|error.
bool is_log_level_name(std::string_view level);

}  // namespace meridian::config
