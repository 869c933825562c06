// EtcdClient: etcd's v3 API through its JSON gateway (POST /v3/...), over libcurl. Keys and
// values are bytes (base64 on the wire); revisions and lease ids are int64 (strings on the wire).
// Endpoints are tried in order, moving on when one cannot be reached; TLS with a CA and a client
// certificate, and etcd's user/password authentication, are supported.
//
// Thread safe: every call uses its own curl handle; the auth token is shared under a lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace meridian::fleet {

struct EtcdOptions {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", "https://10.0.0.1:2379"
  std::string ca_file;                 // PEM CA for https endpoints; empty: the system's
  std::string cert_file;               // client certificate (PEM), with key_file
  std::string key_file;
  std::string username;  // etcd authentication; empty: none
  std::string password;
  std::chrono::milliseconds request_timeout{3000};
  std::chrono::milliseconds connect_timeout{1000};
};

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

struct EtcdRange {
  int64_t revision = 0;  // the store's revision when read
  std::vector<EtcdKeyValue> kvs;
};

// One operation of a transaction.
struct EtcdOp {
  enum class Kind : uint8_t { kPut, kDelete, kDeletePrefix };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;
  int64_t lease = 0;

  static EtcdOp put(std::string key, std::string value, int64_t lease = 0) {
    return EtcdOp{Kind::kPut, std::move(key), std::move(value), lease};
  }
  static EtcdOp erase(std::string key) { return EtcdOp{Kind::kDelete, std::move(key), {}, 0}; }
  static EtcdOp erase_prefix(std::string prefix) {
    return EtcdOp{Kind::kDeletePrefix, std::move(prefix), {}, 0};
  }
};

// A transaction's condition on one key: its mod revision equals `mod_revision` (0: the key does
// not exist).
struct EtcdCompare {
  std::string key;
  int64_t mod_revision = 0;
};

struct EtcdTxnResult {
  bool succeeded = false;
  int64_t revision = 0;  // the store's revision after the transaction (its own when it wrote)
};

// One watch response: the events of one or more revisions, in order.
struct EtcdEvent {
  bool deleted = false;
  EtcdKeyValue kv;  // for a delete: key and mod_revision only
};
struct EtcdWatchBatch {
  int64_t header_revision = 0;
  std::vector<EtcdEvent> events;
};

// The end of a prefix range: the prefix with its last byte incremented.
std::string etcd_prefix_end(std::string_view prefix);

class EtcdClient {
 public:
  explicit EtcdClient(EtcdOptions options);

  const EtcdOptions& options() const { return options_; }

  // Keys in [key, range_end) (range_end empty: the one key), at `revision` (0: the newest).
  // `serializable`: answered by the member asked, without a quorum round (may lag slightly).
  Result<EtcdRange> range(const std::string& key, const std::string& range_end = {},
                          int64_t revision = 0, bool keys_only = false, bool serializable = false);
  Result<EtcdRange> range_prefix(const std::string& prefix, int64_t revision = 0) {
    return range(prefix, etcd_prefix_end(prefix), revision);
  }
  // `success` if every compare holds, else `failure`, in one transaction.
  Result<EtcdTxnResult> txn(const std::vector<EtcdCompare>& compares,
                            const std::vector<EtcdOp>& success,
                            const std::vector<EtcdOp>& failure = {});
  Status put(const std::string& key, const std::string& value, int64_t lease = 0);

  // A lease of `ttl`; its id.
  Result<int64_t> lease_grant(std::chrono::seconds ttl);
  // One keep-alive; the remaining TTL in seconds (0 or less: the lease is gone).
  Result<int64_t> lease_keepalive(int64_t lease);
  Status lease_revoke(int64_t lease);

  // Watches [key, range_end) from `start_revision`, calling `on_batch` for every response
  // with events, until `cancelled` returns true (asked at least once a second), the stream
  // breaks, or `on_batch` returns false. A compacted start revision is reported as an error whose
  // `where` is "compacted:<revision>".
  Status watch_range(const std::string& key, const std::string& range_end, int64_t start_revision,
                     const std::function<bool(const EtcdWatchBatch&)>& on_batch,
                     const std::function<bool()>& cancelled);
  Status watch_prefix(const std::string& prefix, int64_t start_revision,
                      const std::function<bool(const EtcdWatchBatch&)>& on_batch,
                      const std::function<bool()>& cancelled) {
    return watch_range(prefix, etcd_prefix_end(prefix), start_revision, on_batch, cancelled);
  }

  // The endpoint that answered last (for status output).
  std::string current_endpoint() const;

 private:
  // POSTs `body` to `path` on the endpoints in turn; the parsed JSON answer.
  Result<std::string> post(const std::string& path, const std::string& body, bool authenticated);
  Result<std::string> post_once(const std::string& endpoint, const std::string& path,
                                const std::string& body, const std::string& token, long* status);
  Status authenticate();
  std::string token() const;

  EtcdOptions options_;
  mutable std::mutex mutex_;
  std::string token_;
  size_t preferred_ = 0;  // index of the endpoint that answered last
};

}  // namespace meridian::fleet
