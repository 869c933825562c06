// GslbInputs: everything outside the zones that GSLB decisions depend on, as the daemon provides
// it (geolocation database, CIDR collections, operator latency table, user regions), plus the
// HealthView the daemon updates on each health transition and queries read without any rebuild.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "geo/geo_database.h"
#include "geo/geo_point.h"

namespace meridian::policy {

// Health state of every health check a decision can read, by slot. Slots are assigned once per
// check id and never reused, so a DecisionTable built earlier keeps reading the right check after
// later rebuilds. Writers (the daemon's health callback) and readers (query workers) share it
// without locks on the read path: each state is one atomic byte.
class HealthView {
 public:
  static constexpr uint32_t kDefaultCapacity = 1u << 16;
  static constexpr uint32_t kNoSlot = 0xffffffffu;

  explicit HealthView(uint32_t capacity = kDefaultCapacity);
  HealthView(const HealthView&) = delete;
  HealthView& operator=(const HealthView&) = delete;

  // The slot of `check_id`, registering it on first use in the healthy state (the spec's default
  // initial state; the daemon sets the real state with set()). kNoSlot when the view is full.
  uint32_t slot_of(const std::string& check_id);
  // The slot of an already registered check, without registering it.
  std::optional<uint32_t> find(const std::string& check_id) const;
  // Records a state; registers the check if needed. Takes effect for the next query.
  void set(const std::string& check_id, bool healthy);
  // The state of a slot; slots never registered (or kNoSlot) read as healthy.
  bool healthy(uint32_t slot) const {
    return slot >= capacity_ || states_[slot].load(std::memory_order_relaxed) != 0;
  }
  uint32_t size() const { return used_.load(std::memory_order_acquire); }
  uint32_t capacity() const { return capacity_; }

 private:
  const uint32_t capacity_;
  std::unique_ptr<std::atomic<uint8_t>[]> states_;
  std::atomic<uint32_t> used_{0};
  mutable std::mutex mutex_;  // guards slots_ (registration only, never on the query path)
  std::unordered_map<std::string, uint32_t> slots_;
};

// One block of a CIDR collection: "192.0.2.0/24" or "2001:db8::/48" (IPv4 up to /24, IPv6 up to
// /48, spec rule 7) mapped to a location name (the name CidrRoutingConfig.LocationName uses).
struct CidrBlock {
  std::string prefix;
  std::string location;
};

// One row of the operator latency table: clients in `prefix` reach `region` in `ms`.
struct LatencyEntry {
  std::string prefix;
  std::string region;
  uint32_t ms = 0;
};

// An operator-defined region for latency and geoproximity routing, beside the built-in ones.
struct UserRegion {
  std::string name;
  geo::LatLon coordinates;
};

// What a group answers when every candidate that applies is unhealthy ("All down" in the spec).
enum class AllDown : uint8_t { kFailOpen = 0, kNoData = 1, kServFail = 2 };

// The all-down choice for one group (name, type); groups not listed fail open.
struct AllDownSetting {
  std::string name;   // owner, e.g. "www.example.com." (absolute)
  uint16_t type = 0;  // RR type code, e.g. 1 for A
  AllDown mode = AllDown::kFailOpen;
};

struct GslbInputs {
  // Nullable. Not owned: the daemon keeps it open for as long as any engine built from these
  // inputs can answer (in practice, the daemon's lifetime).
  const geo::GeoDatabase* geo = nullptr;
  // Collection id (CidrRoutingConfig.CollectionId) -> its blocks.
  std::map<std::string, std::vector<CidrBlock>> cidr_collections;
  std::vector<LatencyEntry> latency;
  std::vector<UserRegion> regions;
  std::vector<AllDownSetting> all_down;
  // Shared with the daemon's health wiring; null means every check is healthy.
  std::shared_ptr<HealthView> health;
};

}  // namespace meridian::policy
