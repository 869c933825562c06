// meridianctl: inspects Meridian's XDP fast path straight from its pinned BPF maps, so it works
// while meridiand runs and after it stopped: the maps, their decoded entries, the answer the
// program would give a client (explain), and the counters. Decoding lives in tools/inspect/.
#include <linux/bpf.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "abi/stat_names.h"
#include "api/api_commands.h"
#include "control/control_client.h"
#include "inspect/explain.h"
#include "inspect/map_decode.h"
#include "inspect/pinned_maps.h"

namespace {

using json = nlohmann::ordered_json;
using meridian::inspect::Failure;
using meridian::inspect::PinnedMaps;

using meridian::ctl::kExitOk;
using meridian::ctl::kExitText;
using meridian::ctl::kExitUnavailable;
using meridian::ctl::kExitUsage;

int fail(const meridian::Error& e) {
  std::fprintf(stderr, "meridianctl: %s\n", e.to_string().c_str());
  return meridian::inspect::failure_of(e) == Failure::kNotFound ? kExitUsage : kExitUnavailable;
}

std::optional<PinnedMaps> open_pins(const std::string& pin_dir) {
  auto maps = PinnedMaps::open(pin_dir);
  if (!maps) {
    std::fprintf(stderr, "meridianctl: %s (is meridiand running with \"xdp\" and this pin_dir?)\n",
                 maps.error().to_string().c_str());
    return std::nullopt;
  }
  return std::move(*maps);
}

std::string bytes_text(std::optional<uint64_t> bytes) {
  if (!bytes) return "-";
  char buf[32];
  if (*bytes >= 1ull << 20)
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(*bytes) / (1 << 20));
  else if (*bytes >= 1ull << 10)
    std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(*bytes) / (1 << 10));
  else
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(*bytes));
  return buf;
}

json map_json(int fd, const meridian::inspect::MapInfo& info) {
  json j = {{"kernel_name", info.name},
            {"id", info.id},
            {"type", meridian::inspect::map_type_name(info.type)},
            {"key_size", info.key_size},
            {"value_size", info.value_size},
            {"max_entries", info.max_entries},
            {"entries", meridian::inspect::entries_in_use(fd, info)}};
  j["memlock"] = info.memlock ? json(*info.memlock) : json(nullptr);
  return j;
}

int maps_command(const std::string& pin_dir, bool as_json) {
  auto maps = open_pins(pin_dir);
  if (!maps) return kExitUnavailable;
  const auto live = maps->live_generation();
  json out = {{"pin_dir", pin_dir}};
  out["live_generation"] = live ? json(*live) : json(nullptr);
  json list = json::array();
  for (const auto& name : maps->names()) {
    auto fd = maps->map(name);
    if (!fd) return fail(fd.error());
    const auto info = meridian::inspect::map_info(fd->get());
    if (info.id == 0) continue;  // a pinned program or link, not a map
    json j = {{"name", name}};
    j.update(map_json(fd->get(), info));
    if (info.type == BPF_MAP_TYPE_ARRAY_OF_MAPS) {
      json inner = json::array();
      for (uint32_t slot = 0; slot < info.max_entries; ++slot) {
        auto in = meridian::inspect::inner_map(fd->get(), slot);
        json s = {{"slot", slot}};
        // mdn_geo has one slot, not a generation: it is always the live one.
        s["live"] = info.max_entries == 1 || (live && *live == slot);
        if (in.valid())
          s.update(map_json(in.get(), meridian::inspect::map_info(in.get())));
        else
          s["empty"] = true;
        inner.push_back(s);
      }
      j["inner"] = inner;
    }
    list.push_back(j);
  }
  out["maps"] = list;
  if (as_json) {
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  std::printf("pin dir %s, live generation %s\n", pin_dir.c_str(),
              live ? std::to_string(*live).c_str() : "unknown");
  std::printf("%-18s %-14s %5s %6s %8s %9s %10s\n", "map", "type", "key", "value", "max", "in use",
              "memory");
  for (const auto& m : list) {
    std::printf("%-18s %-14s %5u %6u %8u %9zu %10s\n", m["name"].get<std::string>().c_str(),
                m["type"].get<std::string>().c_str(), m["key_size"].get<uint32_t>(),
                m["value_size"].get<uint32_t>(), m["max_entries"].get<uint32_t>(),
                m["entries"].get<size_t>(),
                bytes_text(m["memlock"].is_null() ? std::nullopt
                                                  : std::optional(m["memlock"].get<uint64_t>()))
                    .c_str());
    if (!m.contains("inner")) continue;
    for (const auto& s : m["inner"]) {
      const std::string slot = "  [" + std::to_string(s["slot"].get<uint32_t>()) + "]" +
                               (s["live"].get<bool>() ? " live" : "");
      if (s.contains("empty")) {
        std::printf("%-18s (empty)\n", slot.c_str());
        continue;
      }
      std::printf("%-18s %-14s %5u %6u %8u %9zu %10s\n", slot.c_str(),
                  s["type"].get<std::string>().c_str(), s["key_size"].get<uint32_t>(),
                  s["value_size"].get<uint32_t>(), s["max_entries"].get<uint32_t>(),
                  s["entries"].get<size_t>(),
                  bytes_text(s["memlock"].is_null() ? std::nullopt
                                                    : std::optional(s["memlock"].get<uint64_t>()))
                      .c_str());
    }
  }
  return kExitOk;
}

int dump_command(const std::string& pin_dir, const std::string& map, bool as_json,
                 std::optional<uint32_t> generation, size_t limit) {
  auto maps = open_pins(pin_dir);
  if (!maps) return kExitUnavailable;
  meridian::inspect::DumpOptions options;
  options.generation = generation;
  options.limit = limit;
  auto dump = meridian::inspect::dump_map(*maps, map, options);
  if (!dump) return fail(dump.error());
  if (as_json)
    std::printf("%s\n", dump->dump(2).c_str());
  else
    std::fputs(meridian::inspect::dump_text(*dump).c_str(), stdout);
  return kExitOk;
}

int explain_command(const std::string& pin_dir, const meridian::inspect::ExplainRequest& request,
                    bool as_json) {
  auto maps = open_pins(pin_dir);
  if (!maps) return kExitUnavailable;
  auto e = meridian::inspect::explain(*maps, request);
  if (!e) return fail(e.error());
  if (as_json)
    std::printf("%s\n", e->dump(2).c_str());
  else
    std::fputs(meridian::inspect::explain_text(*e).c_str(), stdout);
  // An unknown name: neither it nor an ancestor has an entry (a name outside our zones, or data
  // not published): the explanation is printed, and the exit code says the name is unknown.
  if (!e->contains("entry")) {
    std::fprintf(stderr, "meridianctl: %s %s: not in the maps\n", request.name.c_str(),
                 request.type.c_str());
    return kExitUsage;
  }
  return kExitOk;
}

// The userspace server's answers from the control API, or nullopt when meridiand is not there.
std::optional<json> userspace_counts(const std::string& socket) {
  meridian::control::ClientOptions options;
  options.unix_socket = socket;
  options.timeout_ms = 2000;
  auto r = meridian::control::ControlClient(options).request("GET", "/v1/stats");
  if (!r || r->status != 200) return std::nullopt;
  auto j = r->json();
  if (!j || !j->contains("userspace")) return std::nullopt;
  return (*j)["userspace"];
}

uint64_t counter(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<uint64_t>() : 0;
}

// The UDP queries the program passed up for userspace to answer (maps/abi: is_query_pass), from
// a counters object or a rates object.
double query_passes(const json& counters) {
  double n = 0;
  for (size_t i = 0; i < MDN_STAT_COUNT; ++i) {
    const char* name = meridian::abi::stat_name(i);
    if (meridian::abi::is_query_pass(i) && counters.contains(name) && counters[name].is_number())
      n += counters[name].get<double>();
  }
  return n;
}

// The fast path's share of the answers: XDP's against userspace's when meridiand answers on its
// socket; else XDP's UDP answers against the UDP queries it passed up, from its counters alone
// (TCP, which the program never sees as queries, is then left out); "unknown" without queries.
std::string hit_ratio_text(double xdp, std::optional<double> user, double xdp_passes) {
  const double total = xdp + (user ? *user : xdp_passes);
  if (total <= 0) return "unknown";
  char text[96];
  std::snprintf(text, sizeof text, "%.1f%%%s", 100.0 * xdp / total,
                user ? "" : " (UDP queries, from the XDP counters alone)");
  return text;
}

// Queries by path, the hit ratio, rcodes and pass reasons, from the XDP counters and (when the
// daemon answers on its socket) the userspace server's.
void print_summary(const json& xdp, const std::optional<json>& user, const std::string& socket) {
  const uint64_t x = counter(xdp, "answered");
  const uint64_t u = user ? counter(*user, "total") : 0;
  std::printf("%-22s %12llu\n", "answered by xdp", static_cast<unsigned long long>(x));
  if (user)
    std::printf("%-22s %12llu\n", "answered by userspace", static_cast<unsigned long long>(u));
  else
    std::printf("%-22s %12s  (meridiand not reachable on %s)\n", "answered by userspace", "-",
                socket.c_str());
  std::printf("%-22s %12s\n", "fast-path hit ratio",
              hit_ratio_text(static_cast<double>(x),
                             user ? std::optional<double>(static_cast<double>(u)) : std::nullopt,
                             query_passes(xdp))
                  .c_str());
  std::map<std::string, uint64_t> rcodes;
  rcodes["NXDOMAIN"] += counter(xdp, "hit_nxdomain");
  rcodes["NOERROR"] += x - counter(xdp, "hit_nxdomain");
  if (user)
    for (const auto& [k, v] : (*user)["by_rcode"].items()) rcodes[k] += v.get<uint64_t>();
  std::string line;
  for (const auto& [k, v] : rcodes)
    if (v) line += " " + k + " " + std::to_string(v);
  std::printf("%-22s%s\n", "rcodes", line.empty() ? " -" : line.c_str());
  line.clear();
  for (const auto& [k, v] : xdp.items())
    if (k.starts_with("pass_") && v.get<uint64_t>())
      line += " " + k.substr(5) + " " + std::to_string(v.get<uint64_t>());
  std::printf("%-22s%s\n\n", "passed up by xdp", line.empty() ? " -" : line.c_str());
}

// meridiand's heartbeat as the program sees it (works without the daemon: from the pinned map).
void print_heartbeat(const meridian::inspect::PinnedMaps& maps) {
  auto heartbeat = meridian::inspect::read_heartbeat(maps);
  std::printf("%-22s %s\n", "xdp heartbeat",
              heartbeat ? meridian::inspect::heartbeat_text(*heartbeat).c_str()
                        : "- (cannot read mdn_control)");
}

int stats_command(const std::string& pin_dir, const std::string& socket, bool as_json,
                  std::optional<double> watch, uint64_t count) {
  auto maps = open_pins(pin_dir);
  if (!maps) return kExitUnavailable;
  auto stats = meridian::inspect::read_stats(*maps);
  // No counters: the program's maps are not there (even an unknown map is "unavailable" here).
  if (!stats) return fail(meridian::with_code(stats.error(), Failure::kUnavailable));
  if (!watch) {
    if (as_json) {
      std::printf("%s\n", stats->dump(2).c_str());
      return kExitOk;
    }
    print_heartbeat(*maps);
    print_summary(*stats, userspace_counts(socket), socket);
    std::printf("%-22s %12s\n", "counter", "value");
    for (const auto& [k, v] : stats->items())
      if (v.get<uint64_t>() != 0)
        std::printf("%-22s %12llu\n", k.c_str(),
                    static_cast<unsigned long long>(v.get<uint64_t>()));
    return kExitOk;
  }
  // --watch: every SECONDS the counters and their per-second rates since the previous read.
  const bool tty = isatty(STDOUT_FILENO);
  auto last = std::chrono::steady_clock::now();
  json previous = *stats;
  auto previous_user = userspace_counts(socket);
  for (uint64_t round = 0; count == 0 || round < count; ++round) {
    std::this_thread::sleep_for(std::chrono::duration<double>(*watch));
    auto now_stats = meridian::inspect::read_stats(*maps);
    if (!now_stats) return fail(meridian::with_code(now_stats.error(), Failure::kUnavailable));
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - last).count();
    last = now;
    json rates = json::object();
    for (const auto& [k, v] : now_stats->items()) {
      const uint64_t before = previous[k].get<uint64_t>(), after = v.get<uint64_t>();
      rates[k] = after >= before ? static_cast<double>(after - before) / elapsed : 0.0;
    }
    if (as_json) {
      json line = {{"time", static_cast<int64_t>(std::time(nullptr))},
                   {"interval_s", elapsed},
                   {"counters", *now_stats},
                   {"rates", rates}};
      if (auto heartbeat = meridian::inspect::read_heartbeat(*maps)) line["heartbeat"] = *heartbeat;
      std::printf("%s\n", line.dump().c_str());
    } else {
      if (tty) std::printf("\033[H\033[2J");
      // Queries per second by path and the hit ratio over the interval.
      auto user = userspace_counts(socket);
      const double xdp_rate = rates["answered"].get<double>();
      std::printf("every %.1f s, %s\nqueries per second: xdp %.1f", *watch, pin_dir.c_str(),
                  xdp_rate);
      std::optional<double> user_rate;
      if (user && previous_user) {
        const uint64_t a = counter(*previous_user, "total"), b = counter(*user, "total");
        user_rate = b >= a ? static_cast<double>(b - a) / elapsed : 0.0;
        std::printf(", userspace %.1f", *user_rate);
      } else {
        std::printf(", userspace - (meridiand not reachable on %s)", socket.c_str());
      }
      std::printf(", hit ratio %s",
                  hit_ratio_text(xdp_rate, user_rate, query_passes(rates)).c_str());
      previous_user = user;
      std::printf("\n");
      print_heartbeat(*maps);
      std::printf("%-22s %14s %12s\n", "counter", "value", "per second");
      for (const auto& [k, v] : now_stats->items())
        if (v.get<uint64_t>() != 0)
          std::printf("%-22s %14llu %12.1f\n", k.c_str(),
                      static_cast<unsigned long long>(v.get<uint64_t>()), rates[k].get<double>());
      if (!tty) std::printf("\n");
    }
    std::fflush(stdout);
    previous = *now_stats;
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "meridianctl: operate Meridian.\n"
      "Map commands (maps, dump, explain, stats) read the XDP fast path's pinned BPF maps and "
      "work\n"
      "while meridiand runs and after it stopped. The other commands talk to meridiand's control\n"
      "API (Unix socket by default, or --url with a bearer token)."};
  app.require_subcommand(1);
  app.footer(std::string("\nRun 'meridianctl COMMAND --help' for each command's manual.\n\n") +
             kExitText);
  std::string pin_dir = "/sys/fs/bpf/meridian/default";
  bool as_json = false;
  auto add_common = [&](CLI::App* cmd, const char* json_help) {
    cmd->add_option("--pin-dir", pin_dir,
                    "bpffs directory of the instance's pinned maps (the \"xdp\" section's "
                    "pin_dir)")
        ->capture_default_str();
    cmd->add_flag("--json", as_json, json_help);
  };

  auto* maps = app.add_subcommand("maps", "List the pinned maps: type, sizes, fill, memory");
  add_common(maps, "One JSON object: {pin_dir, live_generation, maps: [...]}");
  maps->footer(std::string(R"(
DESCRIPTION
  Every map pinned in the pin dir with its kernel type, key and value size, max entries, the
  entries in use and the memory the kernel charges for it (memlock in /proc/self/fdinfo).
  Entries in use: keys of a hash or LPM trie; array slots whose value is not all zero; filled
  slots of a map of maps. A map of maps (mdn_names0..3, mdn_groups, mdn_fragments, mdn_prefixes,
  mdn_latency: one slot per generation; mdn_geo: one slot) also lists each slot's inner map,
  the live generation (from mdn_control) marked "live".

EXAMPLES
  meridianctl maps --pin-dir /sys/fs/bpf/meridian/default
  meridianctl maps --json | jq '.maps[] | {name, entries}'

)") + kExitText);

  std::string map_name;
  std::optional<uint32_t> generation;
  size_t limit = SIZE_MAX;
  auto* dump = app.add_subcommand("dump", "Print one map's entries, decoded");
  dump->add_option("MAP", map_name, "Pinned map name, e.g. mdn_groups (see 'meridianctl maps')")
      ->required();
  add_common(dump, "One JSON object: {map, type, generation?, live?, entries: [...], truncated}");
  dump->add_option("--generation", generation,
                   "Generation slot of a per-generation map (default: the live one)")
      ->check(CLI::Range(0, 1));
  dump->add_option("--limit", limit, "Print at most N entries");
  dump->footer(std::string(R"(
DESCRIPTION
  mdn_names0..3   (qtype, name) -> kind: static (rcode, counts, length, the RRs decoded),
                  policy (its group index), negative (NODATA RRs, types present)
  mdn_groups      group -> policy, all_down, owner name and type, candidates in order with
                  their fragment (record set), health slot and state, location, weight, role,
                  bias
  mdn_fragments   fragment -> counts, length, the RRs decoded under the owner's name
  mdn_prefixes    latency table (table 0: profile) and CIDR collections (their id: location),
                  each prefix with its ECS scope
  mdn_geo         GeoIP networks -> continent, country (codes), subdivision (meridiand's id),
                  whether a position is known, scope
  mdn_latency     (profile, region) -> milliseconds
  mdn_health      the unhealthy slots (every other slot is healthy)
  mdn_stats       the counters summed over CPUs
  mdn_control     the live generation, query log rate, meridiand's heartbeat
  mdn_rrl_config, mdn_rrl_allow, mdn_rrl_buckets   rate limiting settings, allow list, buckets
  mdn_qlog        the query-log ring buffer: not dumped (its events are meridiand's to read)
  Other maps print as hex.

EXAMPLES
  meridianctl dump mdn_groups
  meridianctl dump mdn_names0 --generation 0 --limit 20 --json

)") + kExitText);

  meridian::inspect::ExplainRequest request;
  auto* explain = app.add_subcommand(
      "explain", "The answer the XDP program would give a client for NAME TYPE, and why");
  explain->add_option("NAME", request.name, "Query name, e.g. www.example.com")->required();
  explain->add_option("TYPE", request.type, "Query type, e.g. A, AAAA, TXT")->required();
  explain->add_option("--client", request.client, "The query's source address");
  explain->add_option("--ecs", request.ecs,
                      "The query's EDNS Client Subnet option, ADDRESS/SOURCE-PREFIX");
  add_common(explain, "The explanation as one JSON object");
  explain->footer(std::string(R"(
DESCRIPTION
  Reads the live generation of the pinned maps and evaluates the query as the XDP program does,
  with the program's own decision code (maps/meridian_policy.h): the client address is the ECS
  address when its source prefix is > 0, else --client; the client's facts come from the same
  LPM lookups (mdn_geo with the full address; the latency table and CIDR collections with the
  source prefix), health from mdn_health, latency values from mdn_latency.
  Prints the entry found (a static answer and its RRs, or the policy group), the client's facts
  with the prefixes matched and their scopes, every candidate in order with its health and why it
  is or is not chosen, the outcome, the answer RRs and the ECS scope. Random draws (weighted,
  multivalue over more than 8) show each candidate's probability instead of one pick.
  When the program would not answer, says "passed to userspace: <reason>" (name not in the maps,
  client outside a table at its source prefix, IPv4-mapped source, no NODATA answer, ...).
  Not evaluated: rate limiting, and whether the reply fits the client's UDP size.

EXAMPLES
  meridianctl explain geo.example.com A --client 198.51.100.7
  meridianctl explain geo.example.com A --client 10.0.0.1 --ecs 192.0.2.0/24 --json

)") + kExitText);

  std::optional<double> watch;
  uint64_t count = 0;
  auto* stats = app.add_subcommand("stats", "Fast-path counters summed over CPUs");
  add_common(stats, "All counters as one JSON object (with --watch: one JSON line per refresh)");
  stats->add_option("--watch", watch, "Refresh every SECONDS (default 1) with per-second rates")
      ->expected(0, 1)
      ->default_str("1");
  stats->add_option("--count", count, "With --watch: stop after N refreshes (0: until stopped)");
  std::string socket = "/run/meridian/control.sock";
  stats
      ->add_option("--socket", socket,
                   "meridiand's control socket, for the userspace answers in the summary")
      ->capture_default_str();
  stats->footer(std::string(R"(
DESCRIPTION
  The human form starts with meridiand's heartbeat as the program sees it: its age, and STALE
  once it is older than the "xdp" setting stale_after, when the program passes every query up
  (meridiand is not running; read from the pinned mdn_control, so it works without the daemon).
  Then a summary: queries answered by each path (XDP from the maps, the
  userspace server from meridiand's control socket when it answers there), the fast-path hit
  ratio (XDP's answers against all; when the socket does not answer, XDP's UDP answers against
  the UDP queries it passed up, from its counters alone; "unknown" before any query), answers
  by rcode and the packets XDP passed up by reason (frame_grow: a reply longer than the frame
  could grow to, normal for big replies); then the XDP program's
  outcome counters (enum mdn_stat) summed over CPUs, the non-zero ones. --json gives every XDP
  counter (the userspace counters are on the daemon's /metrics page; the heartbeat is in
  `meridianctl dump mdn_control --json`). With --watch, the counters are read again every
  SECONDS and shown with their rate per second since the previous read (each JSON line also
  carries "heartbeat").

EXAMPLES
  meridianctl stats
  meridianctl stats --watch 2 --count 10

)") + kExitText);

  meridian::ctl::ApiCommands api;
  meridian::ctl::add_api_commands(app, api);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (api.run) return api.run();
  if (*maps) return maps_command(pin_dir, as_json);
  if (*dump) return dump_command(pin_dir, map_name, as_json, generation, limit);
  if (*explain) return explain_command(pin_dir, request, as_json);
  if (*stats) {
    if (stats->count("--watch") > 0) {
      const double seconds = watch.value_or(1.0);
      if (seconds <= 0) {
        std::fprintf(stderr, "meridianctl: --watch wants a positive number of seconds\n");
        return kExitUsage;
      }
      return stats_command(pin_dir, socket, as_json, seconds, count);
    }
    return stats_command(pin_dir, socket, as_json, std::nullopt, count);
  }
  return kExitUsage;
}
