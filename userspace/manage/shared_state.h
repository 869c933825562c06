// SharedState: the catalog's zones and health checks as the key/value pairs a fleet keeps in etcd
// (docs/fleet.md, "Keys"), and the interface the catalog writes them through. One key per zone
// (its record sets in Route 53 JSON) and one per health check, so a change batch is one small
// transaction; keys are relative to the fleet's "<prefix>state/".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "state/state_store.h"
#include "zone/zone.h"

namespace meridian::manage {

struct SharedState {
  int64_t revision = 0;       // the etcd revision this state was read or written at
  int64_t head_revision = 0;  // the mod revision of the head key (0: nothing written yet)
  std::map<std::string, std::string> values;  // "zones/<id>", "checks/<id>" -> JSON text

  bool operator==(const SharedState&) const = default;
};

inline constexpr std::string_view kZoneKeyPrefix = "zones/";
inline constexpr std::string_view kCheckKeyPrefix = "checks/";
inline std::string zone_key(std::string_view id) {
  return std::string(kZoneKeyPrefix) + std::string(id);
}
inline std::string check_key(std::string_view id) {
  return std::string(kCheckKeyPrefix) + std::string(id);
}

// A zone as its value: {"Id", "Name", "Comment", "CreatedBy", "CreatedAt" (ms),
// "ResourceRecordSets": [...], "Tags"?: [{"Key", "Value"}]} (Tags only when the zone has some).
std::string zone_value(const state::ZoneInfo& info, const zone::Zone& zone);
struct DecodedZone {
  state::ZoneInfo info;
  zone::Zone zone;
};
Result<DecodedZone> zone_from_value(std::string_view key, const std::string& text);
// A health check as its value: its HealthCheckConfig object ("Id" included) as JSON text.
inline std::string check_value(const nlohmann::json& object) {
  return object.dump();
}

// A recorded change as its value (key "changes/<id>", outside the state prefix): {"Id",
// "ZoneId", "SubmittedAt" (ms), "Comment", "ChangeCount"}.
std::string change_value(const state::ChangeInfo& change);
Result<state::ChangeInfo> change_from_value(const std::string& text);

// SharedState as JSON text (for the local cache) and back.
std::string shared_state_text(const SharedState& state);
Result<SharedState> shared_state_from_text(const std::string& text);

// Where a fleet's catalog writes (implemented over etcd by the fleet member).
class SharedStore {
 public:
  virtual ~SharedStore() = default;
  // Makes the shared state `next` (keys absent from it are deleted), with `change` recorded when
  // set, in one transaction that holds only while the shared state is still at
  // `current.head_revision`. The new revision, or nullopt when the state moved on (the caller
  // validates again on the new state). An error when etcd cannot be reached or refused it.
  virtual Result<std::optional<int64_t>> write(const SharedState& current,
                                               const std::map<std::string, std::string>& next,
                                               const state::ChangeInfo* change) = 0;
};

}  // namespace meridian::manage
