// Query counters, query logs and the Prometheus page for meridiand.
#include "daemon/observability.h"

#include <unistd.h>

#include <cctype>

#include <spdlog/spdlog.h>

#include "dns/types.h"
#ifdef MERIDIAN_WITH_XDP
#include "abi/heartbeat.h"
#include "abi/stat_names.h"
#endif

namespace meridian::daemon {
namespace {

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "meridian";
  std::string out(buf);
  for (char& c : out)
    if (c == ' ') c = '-';
  return out;
}

}  // namespace

Result<std::unique_ptr<Observability>> Observability::open(const config::DaemonConfig& config,
                                                           Controller& controller,
                                                           HealthRuntime& health) {
  std::unique_ptr<Observability> o(new Observability(controller, health));
  if (!config.query_log.file.empty()) {
    const std::string edge =
        config.query_log.edge_location.empty() ? host_name() : config.query_log.edge_location;
    auto writer = observe::QueryLogWriter::open(config.query_log.file, edge);
    if (!writer) return writer.error();
    o->query_log_ = std::move(writer).value();
    spdlog::get("querylog")
        ->info("query log: {} (every userspace answer, 1 in {} XDP answers)", config.query_log.file,
               config.query_log.xdp_sample);
  }
  return o;
}

Observability::~Observability() {
#ifdef MERIDIAN_WITH_XDP
  if (xdp_reader_) xdp_reader_->stop();
#endif
  if (query_log_) query_log_->flush();
}

void Observability::on_query(const server::QueryEvent& ev) {
  const bool tcp = ev.transport == answer::Transport::kTcp;
  counters_.count(ev.zone_origin, ev.qtype, ev.rcode, tcp);
  if (!query_log_) return;
  auto qname = server::query_name(ev);
  if (!qname) return;
  observe::QueryLogEntry entry;
  entry.time = std::chrono::system_clock::now();
  entry.hosted_zone_id = ev.zone_origin ? controller_.zone_id_of_origin(*ev.zone_origin) : "-";
  entry.qname = observe::query_log_name(*qname);
  entry.qtype = ev.qtype;
  entry.rcode = static_cast<uint8_t>(ev.rcode);
  entry.tcp = tcp;
  entry.resolver_ip = observe::query_log_address(ev.client);
  entry.ecs = ev.ecs ? observe::query_log_ecs(*ev.ecs) : "";
  query_log_->write(entry);
}

#ifdef MERIDIAN_WITH_XDP
void Observability::attach_fast_path(fastpath::FastPath* fp, const config::DaemonConfig& config) {
  fast_path_ = fp;
  if (!fp) return;
  const uint32_t sample = query_log_ ? config.query_log.xdp_sample : 0;
  if (auto s = fp->set_query_log_sample(sample); !s) {
    spdlog::get("querylog")->error("XDP query log sampling not set: {}", s.error().to_string());
    return;
  }
  if (!query_log_ || sample == 0) return;
  auto reader = fastpath::XdpQueryLogReader::start(
      fp->query_log_ring_fd(),
      [this](const dns::Name& qname) { return controller_.zone_id_for(qname); },
      [this](const observe::QueryLogEntry& entry) {
        xdp_logged_++;
        query_log_->write(entry);
      });
  if (!reader) {
    spdlog::get("querylog")->error("XDP query log not read: {}", reader.error().to_string());
    return;
  }
  xdp_reader_ = std::move(reader).value();
}
#endif

void Observability::set_publish_summary(const PublishSummary& summary) {
  std::lock_guard lock(publish_mutex_);
  const uint64_t geo = publish_.geo_prefixes;
  publish_ = summary;
  if (summary.geo_prefixes == 0) publish_.geo_prefixes = geo;  // 0: the table was not rewritten
}

void Observability::reopen_query_log() {
  if (!query_log_) return;
  if (auto s = query_log_->reopen(); !s)
    spdlog::get("querylog")->error("query log not reopened: {}", s.error().to_string());
  else
    spdlog::get("querylog")->info("query log reopened: {}", query_log_->path());
}

nlohmann::json Observability::userspace_stats() const {
  nlohmann::json out = {{"total", 0},
                        {"by_rcode", nlohmann::json::object()},
                        {"by_transport", nlohmann::json::object()},
                        {"by_qtype", nlohmann::json::object()}};
  uint64_t total = 0;
  for (const auto& row : counters_.snapshot()) {
    total += row.count;
    for (const auto& [key, label] :
         {std::pair{"by_rcode", row.rcode}, std::pair{"by_transport", row.transport},
          std::pair{"by_qtype", row.qtype}}) {
      auto& slot = out[key][label];
      slot = (slot.is_null() ? 0 : slot.get<uint64_t>()) + row.count;
    }
  }
  out["total"] = total;
  return out;
}

std::string Observability::metrics_text() const {
  observe::MetricsBuilder m;
  // Queries by path: every userspace answer by zone, type, rcode and transport; XDP's replies.
  counters_.add_to(m, "meridian_userspace_queries_total");
  uint64_t userspace = 0;
  for (const auto& row : counters_.snapshot()) userspace += row.count;
  m.counter("meridian_queries_total", "DNS queries answered, by the path that answered them");
  m.sample("meridian_queries_total", {{"path", "userspace"}}, userspace);
  uint64_t xdp = 0;
#ifdef MERIDIAN_WITH_XDP
  if (fast_path_) {
    if (auto stats = fast_path_->stats()) {
      xdp = (*stats)[MDN_STAT_ANSWERED];
      m.counter("meridian_xdp_packets_total",
                "Every outcome of the XDP program, by counter (enum mdn_stat)");
      m.counter("meridian_xdp_pass_total", "Packets the XDP program passed up, by reason");
      for (size_t i = 0; i < MDN_STAT_COUNT; ++i) {
        const std::string name = abi::stat_name(i);
        m.sample("meridian_xdp_packets_total", {{"counter", name}}, (*stats)[i]);
        if (name.starts_with("pass_"))
          m.sample("meridian_xdp_pass_total", {{"reason", name.substr(5)}}, (*stats)[i]);
      }
      m.counter("meridian_xdp_answers_total", "XDP replies by rcode");
      m.sample("meridian_xdp_answers_total", {{"rcode", "NXDOMAIN"}},
               (*stats)[MDN_STAT_HIT_NXDOMAIN]);
      m.sample("meridian_xdp_answers_total", {{"rcode", "NOERROR"}},
               (*stats)[MDN_STAT_ANSWERED] - (*stats)[MDN_STAT_HIT_NXDOMAIN]);
    }
    if (auto control = fast_path_->control()) {
      const auto beat = abi::heartbeat_of(*control, abi::monotonic_ns());
      m.gauge("meridian_xdp_heartbeat_age_seconds",
              "Age of meridiand's last heartbeat in the XDP maps (written every second at most)");
      m.sample("meridian_xdp_heartbeat_age_seconds", beat.age_seconds);
      m.gauge("meridian_xdp_stale_after_seconds",
              "Heartbeat age past which the XDP program passes every query up (0: never)");
      m.sample("meridian_xdp_stale_after_seconds", beat.stale_after_seconds);
    }
  }
#endif
  m.sample("meridian_queries_total", {{"path", "xdp"}}, xdp);
#ifdef MERIDIAN_WITH_XDP
  if (fast_path_) {
    if (auto stats = fast_path_->stats()) {
      m.counter("meridian_xdp_answers_by_type_total", "XDP positive answers by query type");
      for (size_t i = 0; i < MDN_STAT_COUNT; ++i) {
        const std::string name = abi::stat_name(i);
        if (!name.starts_with("hit_") || name == "hit_policy" || name == "hit_nxdomain" ||
            name == "hit_nodata")
          continue;
        std::string type = name.substr(4);
        for (char& c : type) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        m.sample("meridian_xdp_answers_by_type_total", {{"qtype", type}}, (*stats)[i]);
      }
    }
  }
#endif
  m.gauge("meridian_fastpath_hit_ratio",
          "Share of answered queries the XDP program answered (0 before any query)");
  m.sample(
      "meridian_fastpath_hit_ratio",
      xdp + userspace == 0 ? 0.0 : static_cast<double>(xdp) / static_cast<double>(xdp + userspace));

#ifdef MERIDIAN_WITH_XDP
  {
    std::lock_guard lock(publish_mutex_);
    if (publish_.valid) {
      m.gauge("meridian_xdp_map_entries", "Entries the last publish wrote to the XDP maps");
      m.sample("meridian_xdp_map_entries", {{"map", "names"}}, publish_.answers);
      m.sample("meridian_xdp_map_entries", {{"map", "groups"}}, publish_.policy_groups);
      if (publish_.geo_prefixes)
        m.sample("meridian_xdp_map_entries", {{"map", "geo"}}, publish_.geo_prefixes);
      m.gauge("meridian_xdp_map_capacity", "max_entries of each name map size class");
      m.sample("meridian_xdp_map_capacity", {{"map", "names"}}, publish_.max_entries_per_class);
      m.gauge("meridian_xdp_map_full_entries",
              "Answers the last publish left to userspace because a name map was full");
      m.sample("meridian_xdp_map_full_entries", publish_.map_full);
    }
  }
#endif

  // Health checks: state and last probe latency of each, probes and transitions.
  m.gauge("meridian_health_check_healthy", "1 when the check is healthy");
  m.gauge("meridian_health_check_probe_latency_seconds", "Duration of the check's last probe");
  for (const auto& [id, state] : health_.snapshot()) {
    m.sample("meridian_health_check_healthy", {{"check", id}}, state.healthy() ? 1 : 0);
    m.sample("meridian_health_check_probe_latency_seconds", {{"check", id}},
             static_cast<double>(state.last_latency.count()) / 1e6);
  }
  const auto hc = health_.counters();
  m.counter("meridian_health_probes_total", "Health probe results, by result");
  m.sample("meridian_health_probes_total", {{"result", "success"}}, hc.probes - hc.probe_failures);
  m.sample("meridian_health_probes_total", {{"result", "failure"}}, hc.probe_failures);
  m.counter("meridian_health_transitions_total", "Health state changes");
  m.sample("meridian_health_transitions_total", hc.transitions);
  m.counter("meridian_health_webhooks_total", "Webhook deliveries, by result");
  m.sample("meridian_health_webhooks_total", {{"result", "delivered"}}, hc.webhooks_delivered);
  m.sample("meridian_health_webhooks_total", {{"result", "failed"}}, hc.webhooks_failed);

  // Change batches through the control API.
  const auto cc = controller_.counters();
  m.counter("meridian_change_batches_total", "Change batches, by result");
  m.sample("meridian_change_batches_total", {{"result", "applied"}}, cc.batches_applied);
  m.sample("meridian_change_batches_total", {{"result", "rejected"}}, cc.batches_rejected);
  m.counter("meridian_record_set_changes_total", "Record set changes in applied batches");
  m.sample("meridian_record_set_changes_total", cc.changes_applied);
  m.counter("meridian_publish_failures_total", "Publishes to the XDP maps that failed");
  m.sample("meridian_publish_failures_total", cc.publish_failures);
  m.counter("meridian_state_write_errors_total",
            "Changes the state database could not write (answered 503, nothing applied)");
  m.sample("meridian_state_write_errors_total", cc.storage_errors);

  if (server_) {
    const auto s = server_->stats();
    m.counter("meridian_udp_datagrams_total", "Userspace UDP datagrams, by outcome");
    m.sample("meridian_udp_datagrams_total", {{"outcome", "received"}}, s.udp_received);
    m.sample("meridian_udp_datagrams_total", {{"outcome", "replied"}}, s.udp_replied);
    m.sample("meridian_udp_datagrams_total", {{"outcome", "dropped"}}, s.udp_dropped);
    m.counter("meridian_tcp_connections_total", "Userspace TCP connections, by outcome");
    m.sample("meridian_tcp_connections_total", {{"outcome", "accepted"}}, s.tcp_accepted);
    m.sample("meridian_tcp_connections_total", {{"outcome", "refused"}}, s.tcp_refused);
    m.sample("meridian_tcp_connections_total", {{"outcome", "timed_out"}}, s.tcp_timed_out);
    m.sample("meridian_tcp_connections_total", {{"outcome", "query_timed_out"}},
             s.tcp_query_timed_out);
    m.sample("meridian_tcp_connections_total", {{"outcome", "evicted"}}, s.tcp_evicted);
  }
  if (const auto* control = control_.load()) {
    const auto c = control->counters();
    m.counter("meridian_control_requests_total", "Control API requests, by outcome");
    m.sample("meridian_control_requests_total", {{"outcome", "received"}}, c.requests);
    m.sample("meridian_control_requests_total", {{"outcome", "unauthorized"}},
             c.refused_unauthorized);
    m.sample("meridian_control_requests_total", {{"outcome", "bad_request"}},
             c.refused_bad_request);
    m.counter("meridian_control_connections_total",
              "Control API connections closed or refused by the connection guard, by outcome");
    m.sample("meridian_control_connections_total", {{"outcome", "refused"}}, c.refused_connections);
    m.sample("meridian_control_connections_total", {{"outcome", "evicted"}}, c.evicted_connections);
    m.sample("meridian_control_connections_total", {{"outcome", "timed_out"}},
             c.timed_out_requests);
  }
  if (query_log_) {
    const auto q = query_log_->counters();
    m.counter("meridian_query_log_lines_total", "Query log lines, by outcome");
    m.sample("meridian_query_log_lines_total", {{"outcome", "written"}}, q.lines_written);
    m.sample("meridian_query_log_lines_total", {{"outcome", "dropped"}}, q.lines_dropped);
    m.counter("meridian_query_log_xdp_events_total", "Sampled XDP answers read from the ring");
    m.sample("meridian_query_log_xdp_events_total", xdp_logged_.load());
#ifdef MERIDIAN_WITH_XDP
    if (xdp_reader_) {
      m.counter("meridian_query_log_xdp_bad_events_total",
                "Ring records that were not a query log event of this build");
      m.sample("meridian_query_log_xdp_bad_events_total", xdp_reader_->bad_events());
      m.gauge("meridian_query_log_xdp_reader_up", "1 while the ring buffer is being read");
      m.sample("meridian_query_log_xdp_reader_up", xdp_reader_->poll_error() == 0 ? 1 : 0);
    }
#endif
  }
  m.gauge("meridian_zones", "Hosted zones served");
  m.sample("meridian_zones", controller_.zone_count());
  return m.text();
}

}  // namespace meridian::daemon
