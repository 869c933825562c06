// PinnedMaps: read-only access to the BPF maps meridiand pinned in its pin_dir (bpffs), which
// outlive the daemon: opening, describing (bpf_map_info, memlock), iterating, inner maps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "meridian_maps.h"

namespace meridian::inspect {

// What went wrong, so the CLI can pick its exit code: the pins cannot be read at all, or the
// caller asked for something that does not exist. The `code` of this library's errors.
enum class Failure { kUnavailable = 0, kNotFound };
inline Failure failure_of(const Error& e) {
  return static_cast<Failure>(e.code);
}

// An owned map file descriptor.
using MapFd = UniqueFd;

struct MapInfo {
  std::string name;  // the kernel's (15 characters at most) or the pin's
  uint32_t id = 0;
  uint32_t type = 0;  // enum bpf_map_type
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  uint32_t max_entries = 0;
  uint32_t flags = 0;
  std::optional<uint64_t> memlock;  // bytes, from /proc/self/fdinfo when the kernel reports it
};

// "hash", "array_of_maps", "lpm_trie", ... for an enum bpf_map_type value.
std::string map_type_name(uint32_t type);

MapInfo map_info(int fd);

// Keys of a map in iteration order (every index of an array).
std::vector<std::vector<uint8_t>> map_keys(int fd, uint32_t key_size, size_t limit = SIZE_MAX);
// One value; for per-CPU maps the values of every possible CPU, concatenated (each rounded up to
// 8 bytes, as the kernel returns them). nullopt when the key is absent.
std::optional<std::vector<uint8_t>> map_value(int fd, const MapInfo& info, const void* key);
bool per_cpu(uint32_t type);
int possible_cpus();

// Entries in use: keys of a hash or LPM trie; array slots whose value is not all zero; filled
// slots of a map of maps.
size_t entries_in_use(int fd, const MapInfo& info);

class PinnedMaps {
 public:
  // Fails with kUnavailable when `pin_dir` is not a readable directory.
  static Result<PinnedMaps> open(const std::string& pin_dir);

  const std::string& dir() const { return dir_; }
  // File names in the pin dir, sorted.
  const std::vector<std::string>& names() const { return names_; }
  // Opens one pinned map: kNotFound when the dir has no such pin.
  Result<MapFd> map(const std::string& name) const;
  // The live generation from mdn_control (0 or 1), nullopt when unreadable.
  std::optional<uint32_t> live_generation() const;
  // The whole mdn_control value (generation, query log rate, heartbeat), nullopt when unreadable.
  std::optional<mdn_control> control() const;

 private:
  std::string dir_;
  std::vector<std::string> names_;
};

// The inner map installed in slot `index` of a map of maps, or an invalid fd when empty.
MapFd inner_map(int outer_fd, uint32_t index);

}  // namespace meridian::inspect
