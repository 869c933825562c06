// The migration from single-host mode to a fleet (`meridianctl cluster import`): a state
// database's zones, health checks and change history written into an empty etcd prefix, in the
// keys and values the fleet member reads (fleet_member.h, manage/shared_state.h).
//
// Everything goes in one transaction when it fits etcd's limits on one request (--max-txn-ops,
// default 128 operations; --max-request-bytes, default 1.5 MiB). Otherwise the zones, checks and
// changes are written first in batches, each conditioned on the head key not existing and on its
// own keys not existing, and the head key last, in a transaction conditioned on it not existing.
// Edges serve nothing of the prefix until its head exists, so they never see half an import.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "fleet/etcd_client.h"

namespace meridian::fleet {

// What one etcd request may hold. The defaults leave a margin below etcd's own defaults for the
// request's framing; raise both with etcd's flags for zones of more than ~1.2 MiB as JSON.
struct ImportLimits {
  size_t max_ops = 128;
  size_t max_bytes = 1280 * 1024;  // keys + values of one transaction
};

// The keys and values to write, read and validated from a state database.
struct ImportPlan {
  std::vector<EtcdOp> puts;  // zones, health checks, changes (full keys)
  EtcdOp head;               // written last
  size_t zones = 0;
  size_t record_sets = 0;
  size_t health_checks = 0;
  size_t changes = 0;
};

// Reads the state database at `db_path` (it must exist and be a single-host database, not a
// fleet edge's cache), validates it as meridiand does at start, and makes the plan for `prefix`.
Result<ImportPlan> plan_import(const std::string& db_path, const std::string& prefix);

// The transactions of a plan: one when everything fits `limits`, else batches and the head last.
// Fails when one value alone is larger than `limits.max_bytes`.
Result<std::vector<std::vector<EtcdOp>>> import_transactions(const ImportPlan& plan,
                                                             const ImportLimits& limits);

enum class ImportFailure : uint8_t {
  kUnavailable,  // etcd could not be reached or refused the request: nothing written
  kNotEmpty,     // the prefix holds keys: nothing written
  kInterrupted,  // a batch failed after earlier ones were written (no head: edges ignore them)
};
struct ImportError {
  ImportFailure failure;
  Error error;
};
struct ImportDone {
  size_t transactions = 0;
  int64_t revision = 0;  // the revision of the head key: the first one edges serve
};

// Writes the transactions of a plan (import_transactions) into `prefix` (ending in "/"), which
// must be empty.
std::variant<ImportDone, ImportError> write_import(
    EtcdClient& etcd, const std::string& prefix,
    const std::vector<std::vector<EtcdOp>>& transactions);

}  // namespace meridian::fleet
