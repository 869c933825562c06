// A single-host state database into an empty etcd prefix: read and validated through the catalog
// (as meridiand reads it), then validated again as a fleet edge will read it, then written.
#include "fleet/state_import.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <nlohmann/json.hpp>

#include "fleet/fleet_member.h"
#include "manage/catalog.h"
#include "manage/shared_state.h"

namespace meridian::fleet {
namespace {

size_t op_bytes(const EtcdOp& op) {
  return op.key.size() + op.value.size();
}

std::string head_key(const std::string& prefix) {
  return prefix + std::string(kHeadKey);
}

}  // namespace

Result<ImportPlan> plan_import(const std::string& db_path, const std::string& prefix) {
  // The catalog would create a missing database: a typo must not import an empty one.
  struct stat st {};
  if (::stat(db_path.c_str(), &st) != 0)
    return make_error(std::string("cannot read the state database: ") + std::strerror(errno),
                      db_path);
  auto catalog = manage::Catalog::open(db_path);
  if (!catalog) return catalog.error();
  const state::StateStore& store = *(*catalog)->store();
  auto cache = store.fleet_cache();
  if (!cache) return cache.error();
  if (cache->has_value())
    return make_error(
        "this is a fleet edge's cache (shared state at revision " +
            std::to_string((*cache)->revision) +
            "), not a single-host state database: its fleet already holds that state in etcd",
        db_path);

  ImportPlan plan;
  manage::SharedState shared;
  for (const auto& [id, entry] : (*catalog)->zones()) {
    shared.values[manage::zone_key(id)] = manage::zone_value(entry.info, *entry.zone);
    plan.zones++;
    plan.record_sets += entry.zone->record_set_count();
  }
  for (const auto& object : (*catalog)->health_check_objects()) {
    shared.values[manage::check_key(object["Id"].get<std::string>())] = manage::check_value(object);
    plan.health_checks++;
  }
  // What every edge will do with it (references between zones and checks included).
  if (auto p = (*catalog)->propose_shared(shared); !p)
    return make_error("the state would not be served by a fleet edge: " + p.error().to_string(),
                      db_path);
  const std::string state_prefix = prefix + std::string(kStatePrefix);
  for (const auto& [key, value] : shared.values)
    plan.puts.push_back(EtcdOp::put(state_prefix + key, value));
  // The change history, oldest first, so GetChange keeps answering for past change ids.
  auto changes = store.list_changes(SIZE_MAX);
  if (!changes) return changes.error();
  for (auto it = changes->rbegin(); it != changes->rend(); ++it) {
    plan.puts.push_back(
        EtcdOp::put(prefix + std::string(kChangesPrefix) + it->id, manage::change_value(*it)));
    plan.changes++;
  }
  const nlohmann::json head{
      {"At", state::now_ms()},
      {"Import",
       {{"Zones", plan.zones}, {"HealthChecks", plan.health_checks}, {"Changes", plan.changes}}}};
  plan.head = EtcdOp::put(head_key(prefix), head.dump());
  return plan;
}

Result<std::vector<std::vector<EtcdOp>>> import_transactions(const ImportPlan& plan,
                                                             const ImportLimits& limits) {
  if (limits.max_ops < 2) return make_error("a transaction must hold at least 2 operations");
  size_t total = op_bytes(plan.head);
  for (const auto& op : plan.puts) {
    if (op_bytes(op) > limits.max_bytes)
      return make_error(std::to_string(op_bytes(op)) + " bytes, more than one etcd transaction " +
                            "may hold (" + std::to_string(limits.max_bytes) +
                            "): raise etcd's --max-request-bytes and the import's limit",
                        op.key);
    total += op_bytes(op);
  }
  std::vector<std::vector<EtcdOp>> out;
  if (plan.puts.size() + 1 <= limits.max_ops && total <= limits.max_bytes) {
    out.push_back(plan.puts);
    out.back().push_back(plan.head);
    return out;
  }
  // Each batch is compared on its own keys and the head key: at most max_ops compares.
  std::vector<EtcdOp> batch;
  size_t bytes = 0;
  for (const auto& op : plan.puts) {
    if (!batch.empty() &&
        (batch.size() + 2 > limits.max_ops || bytes + op_bytes(op) > limits.max_bytes)) {
      out.push_back(std::move(batch));
      batch.clear();
      bytes = 0;
    }
    batch.push_back(op);
    bytes += op_bytes(op);
  }
  if (!batch.empty()) out.push_back(std::move(batch));
  out.push_back({plan.head});
  return out;
}

std::variant<ImportDone, ImportError> write_import(
    EtcdClient& etcd, const std::string& prefix,
    const std::vector<std::vector<EtcdOp>>& transactions) {
  auto existing = etcd.range(prefix, etcd_prefix_end(prefix), 0, /*keys_only=*/true);
  if (!existing) return ImportError{ImportFailure::kUnavailable, existing.error()};
  const std::string remove_hint = "(etcdctl del --prefix " + prefix + ")";
  if (!existing->kvs.empty())
    return ImportError{
        ImportFailure::kNotEmpty,
        make_error(std::to_string(existing->kvs.size()) + " keys are under " + prefix +
                   " already (the first: " + existing->kvs.front().key +
                   "); an import goes only into an empty prefix: choose another prefix, or "
                   "remove these keys if no fleet uses them " +
                   remove_hint)};
  const std::string head = head_key(prefix);
  ImportDone done;
  for (const auto& ops : transactions) {
    std::vector<EtcdCompare> compares{EtcdCompare{head, 0}};
    for (const auto& op : ops)
      if (op.key != head) compares.push_back(EtcdCompare{op.key, 0});
    auto result = etcd.txn(compares, ops);
    const bool first = done.transactions == 0;
    if (!result || !result->succeeded) {
      const std::string reason = result ? "another client wrote under " + prefix + " meanwhile"
                                        : result.error().to_string();
      if (first)
        return ImportError{result ? ImportFailure::kNotEmpty : ImportFailure::kUnavailable,
                           make_error("nothing imported: " + reason)};
      return ImportError{
          ImportFailure::kInterrupted,
          make_error("import interrupted after " + std::to_string(done.transactions) + " of " +
                     std::to_string(transactions.size()) + " transactions: " + reason +
                     ". What was written has no head key, so no edge serves it; remove it " +
                     remove_hint + " and import again")};
    }
    done.transactions++;
    done.revision = result->revision;
  }
  return done;
}

}  // namespace meridian::fleet
