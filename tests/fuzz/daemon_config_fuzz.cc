// Fuzzes config::parse_daemon_config on text and checks what a valid config promises.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "config/daemon_config.h"
#include "fuzz_check.h"

namespace {

using namespace meridian;

using meridian::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = config::parse_daemon_config(text, "fuzz.json", "/etc/meridian/");
  if (!parsed) {
    check(!parsed.error().what.empty() && !parsed.error().where.empty(),
          "an error without a reason or a location");
    return 0;
  }
  const config::DaemonConfig& c = *parsed;
  check(!c.listen.empty(), "no listen address");
  std::set<std::string> seen;
  for (const config::ListenAddress& a : c.listen) {
    check(a.family() == AF_INET || a.family() == AF_INET6, "listen address of another family");
    const std::string printed = a.to_text();
    check(seen.insert(printed).second, "duplicate listen address accepted");
    // The printed form is what logs and the ready line show: it must parse back the same.
    auto back = config::parse_listen_address(printed);
    check(back.ok() && back->to_text() == printed, "a listen address does not print and reparse");
  }
  check(c.workers <= 1024, "workers out of range");
  check(c.edns.udp_payload >= 512, "EDNS payload below 512");
  check(!c.edns.nsid || (!c.edns.nsid->empty() && c.edns.nsid->size() <= 512), "NSID size");
  check(config::is_log_level_name(c.log_level), "unknown log level accepted");
  std::set<std::string> origins;
  for (const config::ZoneSource& z : c.zones) {
    check(origins.insert(z.origin.key()).second, "duplicate zone origin accepted");
    check(!z.file.empty(), "zone without a file");
    check(z.file.front() == '/', "zone file not resolved against the base directory");
  }
  if (c.xdp) {
    check(!c.xdp->interfaces.empty(), "xdp without interfaces");
    check(c.xdp->pin_dir.rfind("/sys/fs/bpf/", 0) == 0, "pin_dir outside bpffs");
    check(c.xdp->stale_after <= 86400, "stale_after out of range");
  }
  return 0;
}
