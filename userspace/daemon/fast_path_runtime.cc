// Starting, configuring and publishing the XDP fast path for meridiand.
#include "daemon/fast_path_runtime.h"

#include <spdlog/spdlog.h>

namespace meridian::daemon {

// Loads and attaches the XDP program when the configuration asks for it. Returns null (after
// logging why) when it cannot: the userspace server keeps serving everything.
std::unique_ptr<fastpath::FastPath> start_fast_path(const config::DaemonConfig& config) {
  if (!config.xdp) return nullptr;
  auto log = spdlog::get("fastpath");
  fastpath::FastPathSettings settings;
  settings.interfaces = config.xdp->interfaces;
  settings.mode = *fastpath::attach_mode_from_text(config.xdp->mode);
  settings.pin_dir = config.xdp->pin_dir;
  settings.max_entries_per_class = config.xdp->max_names;
  settings.keep_attached_on_exit = config.xdp->keep_on_exit;
  settings.stale_after = std::chrono::seconds(config.xdp->stale_after);
  settings.advertised_udp_payload = config.edns.udp_payload;
  settings.dns_ports.clear();
  for (const auto& a : config.listen) {
    const uint16_t port = a.port();
    bool seen = false;
    for (uint16_t p : settings.dns_ports) seen = seen || p == port;
    if (!seen && settings.dns_ports.size() < MDN_MAX_PORTS) settings.dns_ports.push_back(port);
  }
  std::vector<std::string> warnings;
  auto fp = fastpath::FastPath::start(settings, &warnings);
  for (const auto& w : warnings) log->warn("{}", w);
  if (!fp) {
    log->error("XDP fast path not started, userspace serves everything: {}",
               fp.error().to_string());
    return nullptr;
  }
  for (const auto& a : (*fp)->attachments())
    log->info("XDP program attached to {} ({} mode)", a->interface(),
              a->generic() ? "generic" : "native");
  return std::move(fp).value();
}

// The XDP program limits the replies it sends with the userspace server's settings.
void configure_fast_path_rrl(fastpath::FastPath* fp, const server::Server& server) {
  if (!fp) return;
  const auto limits = server.rrl_limits();
  if (auto s = fp->configure_rrl(limits->config, limits->settings.allow); !s)
    spdlog::get("fastpath")
        ->error("rate limiting settings not written to XDP: {}", s.error().to_string());
}

bool publish_fast_path(fastpath::FastPath* fp, const zone::ZoneSet& zones,
                       const answer::Responder& responder, PublishSummary* summary) {
  if (!fp) return false;
  auto log = spdlog::get("fastpath");
  auto report = fp->publish(zones, responder);
  if (!report) {
    log->error("publishing to the XDP maps failed, the previous data stays live: {}",
               report.error().to_string());
    return false;
  }
  log->info(
      "published {} answers to XDP (generation {}); left to userspace: {} oversize, {} "
      "map full",
      report->published.published, report->published.generation, report->compiled.oversize,
      report->published.map_full);
  const auto& c = report->compiled;
  log->info(
      "negative answers in XDP: NODATA at {} names, NXDOMAIN below {} names; left to userspace: "
      "{} at or below zone cuts, {} CNAME or wildcard owners, {} with too many types (NODATA), {} "
      "with a wildcard child (NXDOMAIN), {} not replayable exactly",
      c.nodata, c.nxdomain_enclosers, c.negative_cut, c.negative_cname, c.negative_types,
      c.negative_wildcard_child, c.negative_unverified);
  const auto& p = report->policy;
  if (p.groups + p.type + p.alias + p.oversize + p.mixed_ttl + p.not_policy > 0)
    log->info(
        "routing policies decided in XDP: {} groups; left to userspace: {} by type, {} with "
        "aliases, {} oversize, {} multivalue with mixed TTLs, {} not answered by the group",
        p.groups, p.type, p.alias, p.oversize, p.mixed_ttl, p.not_policy);
  if (report->geo_prefixes > 0)
    log->info("geolocation table written to XDP: {} prefixes", report->geo_prefixes);
  if (summary) {
    summary->answers = report->published.published;
    summary->map_full = report->published.map_full;
    summary->policy_groups = p.groups;
    summary->geo_prefixes = report->geo_prefixes;
    summary->valid = true;
  }
  for (const auto& note : report->notes) log->info("{}", note);
  for (const auto& warning : report->warnings) log->warn("{}", warning);
  return true;
}

}  // namespace meridian::daemon
