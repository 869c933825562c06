// meridiand's configuration file: the JSON format of docs/configuration.md, parsed and validated
// into plain values. Every error names the file and a line:column (syntax) or JSON path (fields).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

#include "common/result.h"
#include "dns/name.h"

namespace meridian::config {

// One "listen" entry: an IP address and port served over both UDP and TCP.
struct ListenAddress {
  sockaddr_storage address{};  // AF_INET or AF_INET6, port in network order
  socklen_t length = 0;

  int family() const { return address.ss_family; }
  uint16_t port() const;
  // "127.0.0.1:53" or "[::1]:53".
  std::string to_text() const;
};

// "A.B.C.D:port", "[v6]:port", or either address alone (port 53). Error says why.
Result<ListenAddress> parse_listen_address(std::string_view text);
// The same for a bound socket's address (e.g. after port 0 was resolved).
ListenAddress listen_address_from_sockaddr(const sockaddr* sa, socklen_t length);

enum class ZoneFormat : uint8_t { kRfc1035, kRoute53Json };

struct ZoneSource {
  dns::Name origin;
  ZoneFormat format = ZoneFormat::kRfc1035;
  std::string file;       // resolved against the config file's directory
  std::string json_path;  // "/zones/3", for errors that concern the entry itself
};

struct TcpSettings {
  uint32_t idle_timeout_ms = 10000;
  uint32_t max_connections = 1024;
  uint32_t max_connections_per_source = 32;
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
};

// Reads and validates the file at `path`. Relative zone files are resolved against its directory.
Result<DaemonConfig> load_daemon_config(const std::string& path);
// Same from text; `source_name` is used in errors, `base_dir` resolves relative zone files.
Result<DaemonConfig> parse_daemon_config(std::string_view text, std::string_view source_name,
                                         std::string_view base_dir);

// True for the level names the config and --log-level accept: trace|debug|info|warn|error.
bool is_log_level_name(std::string_view level);

}  // namespace meridian::config
