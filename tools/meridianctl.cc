// meridianctl: inspects a running (or stopped) Meridian through its pinned BPF maps.
// This first version shows the XDP fast path's counters; more commands come with the operations
// work (docs/architecture.md).
#include <bpf/bpf.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fastpath/map_writer.h"
#include "fastpath/stat_names.h"

namespace {

int stats_command(const std::string& pin_dir, bool json_output) {
  const std::string path = pin_dir + "/mdn_stats";
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    std::fprintf(stderr, "meridianctl: cannot open %s: %s (is meridiand running with \"xdp\"?)\n",
                 path.c_str(), std::strerror(errno));
    return 2;
  }
  meridian::fastpath::FastPathMapFds fds;
  fds.stats = fd;
  meridian::fastpath::MapWriter reader(fds, 1);
  auto stats = reader.read_stats();
  close(fd);
  if (!stats) {
    std::fprintf(stderr, "meridianctl: %s\n", stats.error().to_string().c_str());
    return 2;
  }
  if (json_output) {
    nlohmann::json j;
    for (size_t i = 0; i < stats->size(); ++i) j[meridian::fastpath::stat_name(i)] = (*stats)[i];
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%-22s %12s\n", "counter", "value");
  for (size_t i = 0; i < stats->size(); ++i)
    if ((*stats)[i] != 0)
      std::printf("%-22s %12llu\n", meridian::fastpath::stat_name(i),
                  static_cast<unsigned long long>((*stats)[i]));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meridianctl: inspect Meridian's XDP fast path"};
  app.require_subcommand(1);
  std::string pin_dir = "/sys/fs/bpf/meridian/default";
  bool json_output = false;
  auto* stats = app.add_subcommand("stats", "Fast-path counters summed over CPUs (non-zero only)");
  stats->add_option("--pin-dir", pin_dir, "bpffs directory of the instance's pinned maps")
      ->capture_default_str();
  stats->add_flag("--json", json_output, "All counters as JSON");
  CLI11_PARSE(app, argc, argv);
  if (*stats) return stats_command(pin_dir, json_output);
  return 2;
}
