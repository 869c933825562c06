// Query counters, query logs and the Prometheus page for meridiand.
#include "daemon/observability.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "dns/types.h"

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
  // The ring reader writes to the query log: stopped before the log is flushed and closed.
  if (fast_path_) fast_path_->stop_query_log();
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

void Observability::attach_fast_path(FastPathRuntime& fast_path,
                                     const config::DaemonConfig& config) {
  fast_path_ = &fast_path;
  fast_path.start_query_log(
      query_log_ ? config.query_log.xdp_sample : 0,
      [this](const dns::Name& qname) { return controller_.zone_id_for(qname); },
      [this](const observe::QueryLogEntry& entry) {
        xdp_logged_++;
        query_log_->write(entry);
      });
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

void Observability::add_fleet_metrics(observe::MetricsBuilder& m, uint64_t apply_failures) const {
  using observe::MetricType;
  const auto fc = fleet_->counters();
  const auto status = fleet_->status();
  const size_t edges = status.contains("Edges") ? status["Edges"].size() : 0;
  struct Family {
    std::string_view name;
    MetricType type;
    std::string_view help;
    observe::MetricValue value;
  };
  const Family families[] = {
      {"meridian_fleet_connected", MetricType::kGauge,
       "1 while this edge reaches etcd, 0 while it is cut off",
       status.value("Connected", false) ? 1 : 0},
      {"meridian_fleet_applied_revision", MetricType::kGauge,
       "The etcd revision of the shared state served here",
       status.value("AppliedRevision", int64_t{0})},
      {"meridian_fleet_edges", MetricType::kGauge,
       "Live edges (lease alive) as this edge last saw them", edges},
      {"meridian_fleet_full_reloads_total", MetricType::kCounter,
       "Reads of the whole shared state (start, a broken watch, a compacted revision)",
       fc.full_reloads},
      {"meridian_fleet_watch_restarts_total", MetricType::kCounter,
       "Watch streams that ended and were opened again", fc.watch_restarts},
      {"meridian_fleet_observations_written_total", MetricType::kCounter,
       "Health observations this edge wrote (on change only)", fc.observations_written},
      {"meridian_fleet_apply_failures_total", MetricType::kCounter,
       "Shared revisions this edge could not serve (it keeps serving the previous one)",
       apply_failures},
  };
  for (const auto& f : families) m.family(f.name, f.type, f.help).sample(f.name, f.value);
  m.counter("meridian_fleet_writes_total",
            "Conditional writes to etcd, by result (conflict: another edge wrote first)");
  m.sample("meridian_fleet_writes_total", {{"result", "committed"}}, fc.writes);
  m.sample("meridian_fleet_writes_total", {{"result", "conflict"}}, fc.write_conflicts);
}

std::string Observability::metrics_text() const {
  observe::MetricsBuilder m;
  // Queries by path: every userspace answer by zone, type, rcode and transport; XDP's replies.
  counters_.add_to(m, "meridian_userspace_queries_total");
  uint64_t userspace = 0;
  for (const auto& row : counters_.snapshot()) userspace += row.count;
  m.counter("meridian_queries_total", "DNS queries answered, by the path that answered them");
  m.sample("meridian_queries_total", {{"path", "userspace"}}, userspace);
  // The program's own families (counters, heartbeat, map fill); none when no program runs.
  const uint64_t xdp = fast_path_ ? fast_path_->add_metrics(m) : 0;
  m.sample("meridian_queries_total", {{"path", "xdp"}}, xdp);
  m.gauge("meridian_fastpath_hit_ratio",
          "Share of answered queries the XDP program answered (0 before any query)");
  m.sample(
      "meridian_fastpath_hit_ratio",
      xdp + userspace == 0 ? 0.0 : static_cast<double>(xdp) / static_cast<double>(xdp + userspace));

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
  }
  if (fleet_) add_fleet_metrics(m, cc.shared_apply_failures);
  m.gauge("meridian_zones", "Hosted zones served");
  m.sample("meridian_zones", controller_.zone_count());
  return m.text();
}

}  // namespace meridian::daemon
