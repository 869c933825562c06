// FastPathRuntime with the XDP program in the build: starting, publishing, health, rate limits,
// the sampled query log and the program's metrics.
#include "daemon/fast_path_runtime.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <mutex>

#include <spdlog/spdlog.h>

#include "abi/heartbeat.h"
#include "abi/stat_names.h"
#include "fastpath/fast_path.h"
#include "fastpath/xdp_query_log.h"

namespace meridian::daemon {
namespace {

fastpath::FastPathSettings settings_of(const config::DaemonConfig& config) {
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
  return settings;
}

// Logs what a publish wrote and left to userspace; returns it for the map fill gauges.
PublishSummary log_publish(const fastpath::PublishReport& report) {
  auto log = spdlog::get("fastpath");
  log->info(
      "published {} answers to XDP (generation {}); left to userspace: {} oversize, {} "
      "map full",
      report.published.published, report.published.generation, report.compiled.oversize,
      report.published.map_full);
  const auto& c = report.compiled;
  log->info(
      "negative answers in XDP: NODATA at {} names, NXDOMAIN below {} names; left to userspace: "
      "{} at or below zone cuts, {} CNAME or wildcard owners, {} with too many types (NODATA), {} "
      "with a wildcard child (NXDOMAIN), {} not replayable exactly",
      c.nodata, c.nxdomain_enclosers, c.negative_cut, c.negative_cname, c.negative_types,
      c.negative_wildcard_child, c.negative_unverified);
  const auto& p = report.policy;
  if (p.groups + p.type + p.alias + p.oversize + p.mixed_ttl + p.not_policy > 0)
    log->info(
        "routing policies decided in XDP: {} groups; left to userspace: {} by type, {} with "
        "aliases, {} oversize, {} multivalue with mixed TTLs, {} not answered by the group",
        p.groups, p.type, p.alias, p.oversize, p.mixed_ttl, p.not_policy);
  if (report.geo_prefixes > 0)
    log->info("geolocation table written to XDP: {} prefixes", report.geo_prefixes);
  PublishSummary summary;
  summary.answers = report.published.published;
  summary.map_full = report.published.map_full;
  summary.policy_groups = p.groups;
  summary.geo_prefixes = report.geo_prefixes;
  summary.valid = true;
  for (const auto& note : report.notes) log->info("{}", note);
  for (const auto& warning : report.warnings) log->warn("{}", warning);
  return summary;
}

}  // namespace

struct FastPathRuntime::Program {
  explicit Program(const answer::Responder& r) : responder(r) {}
  const answer::Responder& responder;
  std::unique_ptr<fastpath::FastPath> owned;  // set once, by start()
  // What the other threads (health transitions, publishes, metrics) read: null until started.
  std::atomic<fastpath::FastPath*> running{nullptr};
  uint32_t max_entries_per_class = 0;
  mutable std::mutex publish_mutex;
  PublishSummary last_publish;
  std::unique_ptr<fastpath::XdpQueryLogReader> query_log;
};

FastPathRuntime::FastPathRuntime(const answer::Responder& responder)
    : program_(std::make_unique<Program>(responder)) {}

FastPathRuntime::~FastPathRuntime() {
  stop_query_log();
}

std::string FastPathRuntime::pin_dir_to_lock(const config::DaemonConfig& config) {
  if (!config.xdp || config.xdp->pin_dir.empty()) return {};
  if (!fastpath::prepare_pin_dir(config.xdp->pin_dir)) return {};
  return config.xdp->pin_dir;
}

void FastPathRuntime::start(const config::DaemonConfig& config) {
  if (!config.xdp) return;
  auto log = spdlog::get("fastpath");
  std::vector<std::string> warnings;
  auto fp = fastpath::FastPath::start(settings_of(config), &warnings);
  for (const auto& w : warnings) log->warn("{}", w);
  if (!fp) {
    log->error("XDP fast path not started, userspace serves everything: {}",
               fp.error().to_string());
    return;
  }
  for (const auto& a : (*fp)->attachments())
    log->info("XDP program attached to {} ({} mode)", a->interface(),
              a->generic() ? "generic" : "native");
  program_->max_entries_per_class = config.xdp->max_names;
  program_->owned = std::move(fp).value();
  program_->running.store(program_->owned.get());
}

bool FastPathRuntime::publish(const zone::ZoneSet& zones) {
  auto* fp = program_->running.load();
  if (!fp) return true;
  auto report = fp->publish(zones, program_->responder);
  if (!report) {
    spdlog::get("fastpath")
        ->error("publishing to the XDP maps failed, the previous data stays live: {}",
                report.error().to_string());
    return false;
  }
  PublishSummary summary = log_publish(*report);
  summary.max_entries_per_class = program_->max_entries_per_class;
  std::lock_guard lock(program_->publish_mutex);
  const uint64_t geo = program_->last_publish.geo_prefixes;
  program_->last_publish = summary;
  if (summary.geo_prefixes == 0)
    program_->last_publish.geo_prefixes = geo;  // 0: the table was not rewritten
  return true;
}

void FastPathRuntime::on_health_transition(const policy::HealthView& view,
                                           const std::string& check_id) {
  auto* fp = program_->running.load();
  auto slot = view.find(check_id);
  if (fp && slot)
    if (auto s = fp->update_health(view, *slot); !s)
      spdlog::get("fastpath")->error("health map: {}", s.error().to_string());
}

void FastPathRuntime::configure_rrl(const server::Server& server) {
  auto* fp = program_->running.load();
  if (!fp) return;
  const auto limits = server.rrl_limits();
  if (auto s = fp->configure_rrl(limits->config, limits->settings.allow); !s)
    spdlog::get("fastpath")
        ->error("rate limiting settings not written to XDP: {}", s.error().to_string());
}

bool FastPathRuntime::set_stale_after(uint32_t seconds) {
  auto* fp = program_->running.load();
  if (!fp) return false;
  fp->set_stale_after(std::chrono::seconds(seconds));
  spdlog::get("fastpath")->info("XDP stale_after: {} s", seconds);
  return true;
}

void FastPathRuntime::start_query_log(uint32_t one_in_n,
                                      std::function<std::string(const dns::Name&)> zone_id_for,
                                      std::function<void(const observe::QueryLogEntry&)> write) {
  auto* fp = program_->running.load();
  if (!fp) return;
  if (auto s = fp->set_query_log_sample(one_in_n); !s) {
    spdlog::get("querylog")->error("XDP query log sampling not set: {}", s.error().to_string());
    return;
  }
  if (one_in_n == 0) return;
  auto reader = fastpath::XdpQueryLogReader::start(fp->query_log_ring_fd(), std::move(zone_id_for),
                                                   std::move(write));
  if (!reader) {
    spdlog::get("querylog")->error("XDP query log not read: {}", reader.error().to_string());
    return;
  }
  program_->query_log = std::move(reader).value();
}

void FastPathRuntime::stop_query_log() {
  if (program_->query_log) program_->query_log->stop();
}

uint64_t FastPathRuntime::add_metrics(observe::MetricsBuilder& m) const {
  const auto* fp = program_->running.load();
  uint64_t answered = 0;
  if (fp) {
    if (auto stats = fp->stats()) {
      answered = (*stats)[MDN_STAT_ANSWERED];
      m.counter("meridian_xdp_packets_total",
                "Every outcome of the XDP program, by counter (enum mdn_stat)");
      m.counter("meridian_xdp_pass_total", "Packets the XDP program passed up, by reason");
      m.counter("meridian_xdp_answers_by_type_total", "XDP positive answers by query type");
      for (size_t i = 0; i < MDN_STAT_COUNT; ++i) {
        const std::string name = abi::stat_name(i);
        m.sample("meridian_xdp_packets_total", {{"counter", name}}, (*stats)[i]);
        if (name.starts_with("pass_"))
          m.sample("meridian_xdp_pass_total", {{"reason", name.substr(5)}}, (*stats)[i]);
        if (!name.starts_with("hit_") || name == "hit_policy" || name == "hit_nxdomain" ||
            name == "hit_nodata")
          continue;
        std::string type = name.substr(4);
        for (char& c : type) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        m.sample("meridian_xdp_answers_by_type_total", {{"qtype", type}}, (*stats)[i]);
      }
      m.counter("meridian_xdp_answers_total", "XDP replies by rcode");
      m.sample("meridian_xdp_answers_total", {{"rcode", "NXDOMAIN"}},
               (*stats)[MDN_STAT_HIT_NXDOMAIN]);
      m.sample("meridian_xdp_answers_total", {{"rcode", "NOERROR"}},
               (*stats)[MDN_STAT_ANSWERED] - (*stats)[MDN_STAT_HIT_NXDOMAIN]);
    }
    if (auto control = fp->control()) {
      const auto beat = abi::heartbeat_of(*control, abi::monotonic_ns());
      m.gauge("meridian_xdp_heartbeat_age_seconds",
              "Age of meridiand's last heartbeat in the XDP maps (written every second at most)");
      m.sample("meridian_xdp_heartbeat_age_seconds", beat.age_seconds);
      m.gauge("meridian_xdp_stale_after_seconds",
              "Heartbeat age past which the XDP program passes every query up (0: never)");
      m.sample("meridian_xdp_stale_after_seconds", beat.stale_after_seconds);
    }
  }
  {
    std::lock_guard lock(program_->publish_mutex);
    const auto& publish = program_->last_publish;
    if (publish.valid) {
      m.gauge("meridian_xdp_map_entries", "Entries the last publish wrote to the XDP maps");
      m.sample("meridian_xdp_map_entries", {{"map", "names"}}, publish.answers);
      m.sample("meridian_xdp_map_entries", {{"map", "groups"}}, publish.policy_groups);
      if (publish.geo_prefixes)
        m.sample("meridian_xdp_map_entries", {{"map", "geo"}}, publish.geo_prefixes);
      m.gauge("meridian_xdp_map_capacity", "max_entries of each name map size class");
      m.sample("meridian_xdp_map_capacity", {{"map", "names"}}, publish.max_entries_per_class);
      m.gauge("meridian_xdp_map_full_entries",
              "Answers the last publish left to userspace because a name map was full");
      m.sample("meridian_xdp_map_full_entries", publish.map_full);
    }
  }
  if (const auto& reader = program_->query_log) {
    m.counter("meridian_query_log_xdp_bad_events_total",
              "Ring records that were not a query log event of this build");
    m.sample("meridian_query_log_xdp_bad_events_total", reader->bad_events());
    m.gauge("meridian_query_log_xdp_reader_up", "1 while the ring buffer is being read");
    m.sample("meridian_query_log_xdp_reader_up", reader->poll_error() == 0 ? 1 : 0);
  }
  return answered;
}

}  // namespace meridian::daemon
