// etcd's JSON gateway over libcurl: one easy handle per call, endpoints in turn.
#include "fleet/etcd_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <memory>

#include <nlohmann/json.hpp>

namespace meridian::fleet {
namespace {

using nlohmann::json;

std::string b64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> unb64(const std::string& text) {
  if (text.empty()) return std::string();
  std::string out(3 * (text.size() / 4) + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return make_error("etcd: bad base64 in an answer");
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  if (text.size() >= 1 && text[text.size() - 1] == '=') --len;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

// The gateway prints int64 fields as strings and leaves zero values out.
int64_t int_field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return 0;
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return it->is_number_integer() ? it->get<int64_t>() : 0;
}

Result<EtcdKeyValue> key_value(const json& kv) {
  EtcdKeyValue out;
  auto key = unb64(kv.value("key", ""));
  if (!key) return key.error();
  auto value = unb64(kv.value("value", ""));
  if (!value) return value.error();
  out.key = std::move(key).value();
  out.value = std::move(value).value();
  out.create_revision = int_field(kv, "create_revision");
  out.mod_revision = int_field(kv, "mod_revision");
  out.lease = int_field(kv, "lease");
  return out;
}

json op_json(const EtcdOp& op) {
  switch (op.kind) {
    case EtcdOp::Kind::kPut: {
      json put{{"key", b64(op.key)}, {"value", b64(op.value)}};
      if (op.lease != 0) put["lease"] = std::to_string(op.lease);
      return json{{"request_put", put}};
    }
    case EtcdOp::Kind::kDelete:
      return json{{"request_delete_range", {{"key", b64(op.key)}}}};
    case EtcdOp::Kind::kDeletePrefix:
      return json{{"request_delete_range",
                   {{"key", b64(op.key)}, {"range_end", b64(etcd_prefix_end(op.key))}}}};
  }
  return json::object();
}

// An answer or one watch message bigger than this is refused (etcd's own request limit is
// 1.5 MiB by default; a whole-state range of a large fleet stays far below it).
constexpr size_t kMaxAnswerBytes = size_t{256} << 20;
// An etcd error message quoted in ours is cut here.
constexpr size_t kMaxQuotedBytes = 200;

size_t append_body(char* data, size_t size, size_t count, void* user) {
  auto* answer = static_cast<std::string*>(user);
  if (answer->size() + size * count > kMaxAnswerBytes) return 0;  // curl fails the transfer
  answer->append(data, size * count);
  return size * count;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// The handle every request shares the settings of: TLS, timeouts, JSON.
std::unique_ptr<CURL, CurlDeleter> make_handle(const EtcdOptions& o, const std::string& url,
                                               const std::string& body, curl_slist* headers) {
  std::unique_ptr<CURL, CurlDeleter> c(curl_easy_init());
  if (!c) return c;
  CURL* e = c.get();
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  if (!o.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, o.ca_file.c_str());
  if (!o.cert_file.empty()) curl_easy_setopt(e, CURLOPT_SSLCERT, o.cert_file.c_str());
  if (!o.key_file.empty()) curl_easy_setopt(e, CURLOPT_SSLKEY, o.key_file.c_str());
  return c;
}

// The gateway's error text: {"error": "...", "message": "..."} from a unary call, {"error":
// {"message": "...", ...}} from a stream (keep-alive, watch).
std::string error_message(const json& j) {
  for (const char* name : {"message", "error"}) {
    auto it = j.find(name);
    if (it == j.end()) continue;
    if (it->is_string() && !it->get_ref<const std::string&>().empty())
      return it->get<std::string>();
    if (it->is_object())
      if (std::string m = error_message(*it); !m.empty()) return m;
  }
  return {};
}

std::string gateway_error(const std::string& body, long status) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_object()) {
    std::string m = error_message(j);
    if (m.size() > kMaxQuotedBytes) m = m.substr(0, kMaxQuotedBytes) + "...";
    if (!m.empty()) return m;
  }
  return "HTTP " + std::to_string(status);
}

}  // namespace

std::string etcd_prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

EtcdClient::EtcdClient(EtcdOptions options) : options_(std::move(options)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

std::string EtcdClient::current_endpoint() const {
  std::lock_guard lock(mutex_);
  return options_.endpoints.empty() ? std::string() : options_.endpoints[preferred_];
}

std::string EtcdClient::token() const {
  std::lock_guard lock(mutex_);
  return token_;
}

Result<std::string> EtcdClient::post_once(const std::string& endpoint, const std::string& path,
                                          const std::string& body, const std::string& token,
                                          long* status) {
  std::unique_ptr<curl_slist, SlistDeleter> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"));
  if (!token.empty())
    headers.reset(curl_slist_append(headers.release(), ("Authorization: " + token).c_str()));
  auto c = make_handle(options_, endpoint + path, body, headers.get());
  if (!c) return make_error("etcd: cannot create a curl handle");
  std::string answer;
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT_MS,
                   static_cast<long>(options_.request_timeout.count()));
  const CURLcode rc = curl_easy_perform(c.get());
  if (rc == CURLE_WRITE_ERROR)
    return make_error(
        "etcd: an answer larger than " + std::to_string(kMaxAnswerBytes >> 20) + " MiB was refused",
        endpoint);
  if (rc != CURLE_OK) return make_error(std::string("etcd: ") + curl_easy_strerror(rc), endpoint);
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, status);
  return answer;
}

Status EtcdClient::authenticate() {
  const std::string body =
      json{{"name", options_.username}, {"password", options_.password}}.dump();
  auto answer = post("/v3/auth/authenticate", body, /*authenticated=*/false);
  if (!answer) return answer.error();
  auto j = json::parse(*answer, nullptr, false);
  if (!j.is_object() || !j.contains("token") || !j["token"].is_string())
    return make_error("etcd: authentication gave no token");
  std::lock_guard lock(mutex_);
  token_ = j["token"].get<std::string>();
  return Ok{};
}

Result<std::string> EtcdClient::post(const std::string& path, const std::string& body,
                                     bool authenticated) {
  if (options_.endpoints.empty()) return make_error("etcd: no endpoints configured");
  if (authenticated && !options_.username.empty() && token().empty()) {
    if (auto s = authenticate(); !s) return s.error();
  }
  Error last = make_error("etcd: no endpoint answered");
  size_t start;
  {
    std::lock_guard lock(mutex_);
    start = preferred_;
  }
  for (size_t i = 0; i < options_.endpoints.size(); ++i) {
    const size_t at = (start + i) % options_.endpoints.size();
    const std::string& endpoint = options_.endpoints[at];
    for (int attempt = 0; attempt < 2; ++attempt) {
      long status = 0;
      auto answer =
          post_once(endpoint, path, body, authenticated ? token() : std::string(), &status);
      if (!answer) {
        last = answer.error();
        break;  // unreachable: the next endpoint
      }
      if (status == 200) {
        std::lock_guard lock(mutex_);
        preferred_ = at;
        return answer;
      }
      const std::string reason = gateway_error(*answer, status);
      // An expired token: authenticate again once, then retry on the same endpoint.
      if (authenticated && !options_.username.empty() && attempt == 0 &&
          reason.find("token") != std::string::npos) {
        if (auto s = authenticate(); !s) return s.error();
        continue;
      }
      // No leader / not ready: another member may do better.
      last = make_error("etcd: " + reason, endpoint);
      if (status >= 500) break;
      return last;
    }
  }
  return last;
}

Result<EtcdRange> EtcdClient::range(const std::string& key, const std::string& range_end,
                                    int64_t revision, bool keys_only, bool serializable) {
  json req{{"key", b64(key)}};
  if (serializable) req["serializable"] = true;
  if (!range_end.empty()) req["range_end"] = b64(range_end);
  if (revision > 0) req["revision"] = std::to_string(revision);
  if (keys_only) req["keys_only"] = true;
  auto answer = post("/v3/kv/range", req.dump(), true);
  if (!answer) return answer.error();
  auto j = json::parse(*answer, nullptr, false);
  if (!j.is_object()) return make_error("etcd: range: the answer is not JSON");
  EtcdRange out;
  out.revision = int_field(j.value("header", json::object()), "revision");
  for (const auto& kv : j.value("kvs", json::array())) {
    auto parsed = key_value(kv);
    if (!parsed) return parsed.error();
    out.kvs.push_back(std::move(parsed).value());
  }
  return out;
}

Result<EtcdTxnResult> EtcdClient::txn(const std::vector<EtcdCompare>& compares,
                                      const std::vector<EtcdOp>& success,
                                      const std::vector<EtcdOp>& failure) {
  json req{{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const auto& c : compares) {
    // MOD == 0 holds for a key that does not exist.
    req["compare"].push_back(json{{"key", b64(c.key)},
                                  {"target", "MOD"},
                                  {"result", "EQUAL"},
                                  {"mod_revision", std::to_string(c.mod_revision)}});
  }
  for (const auto& op : success) req["success"].push_back(op_json(op));
  for (const auto& op : failure) req["failure"].push_back(op_json(op));
  auto answer = post("/v3/kv/txn", req.dump(), true);
  if (!answer) return answer.error();
  auto j = json::parse(*answer, nullptr, false);
  if (!j.is_object()) return make_error("etcd: txn: the answer is not JSON");
  EtcdTxnResult out;
  out.succeeded = j.value("succeeded", false);
  out.revision = int_field(j.value("header", json::object()), "revision");
  return out;
}

Status EtcdClient::put(const std::string& key, const std::string& value, int64_t lease) {
  auto r = txn({}, {EtcdOp::put(key, value, lease)});
  if (!r) return r.error();
  return Ok{};
}

Result<int64_t> EtcdClient::lease_grant(std::chrono::seconds ttl) {
  auto answer = post("/v3/lease/grant", json{{"TTL", std::to_string(ttl.count())}}.dump(), true);
  if (!answer) return answer.error();
  auto j = json::parse(*answer, nullptr, false);
  if (!j.is_object() || int_field(j, "ID") == 0)
    return make_error("etcd: lease grant: " + (j.is_object() && !error_message(j).empty()
                                                   ? error_message(j)
                                                   : "no lease id"));
  return int_field(j, "ID");
}

Result<int64_t> EtcdClient::lease_keepalive(int64_t lease) {
  auto answer = post("/v3/lease/keepalive", json{{"ID", std::to_string(lease)}}.dump(), true);
  if (!answer) return answer.error();
  // The gateway streams keep-alive answers: {"result": {...,"TTL": "10"}}.
  auto j = json::parse(answer->substr(0, answer->find('\n')), nullptr, false);
  if (!j.is_object()) return make_error("etcd: lease keep-alive: the answer is not JSON");
  // An error (etcd overloaded, no leader) is not an expired lease.
  if (j.contains("error")) return make_error("etcd: lease keep-alive: " + error_message(j));
  const json& result = j.contains("result") ? j["result"] : j;
  return int_field(result, "TTL");
}

Status EtcdClient::lease_revoke(int64_t lease) {
  auto answer = post("/v3/lease/revoke", json{{"ID", std::to_string(lease)}}.dump(), true);
  if (!answer) return answer.error();
  return Ok{};
}

namespace {

// The watch stream: one JSON object per line, possibly split across reads.
struct WatchStream {
  std::string buffer;
  const std::function<bool(const EtcdWatchBatch&)>* on_batch = nullptr;
  const std::function<bool()>* cancelled = nullptr;
  std::optional<Error> failure;
  bool created = false;
  bool done = false;

  void line(const std::string& text) {
    auto j = json::parse(text, nullptr, false);
    if (!j.is_object()) return;
    if (j.contains("error")) {
      const std::string m = error_message(j);
      failure = make_error("etcd: watch: " + (m.empty() ? std::string("error") : m));
      done = true;
      return;
    }
    const json& r = j.contains("result") ? j["result"] : j;
    if (const int64_t compacted = int_field(r, "compact_revision"); compacted > 0) {
      failure = make_error("etcd: watch: start revision compacted",
                           "compacted:" + std::to_string(compacted));
      done = true;
      return;
    }
    if (r.value("canceled", false)) {
      failure = make_error("etcd: watch canceled: " + r.value("cancel_reason", std::string()));
      done = true;
      return;
    }
    if (r.value("created", false)) created = true;
    if (!r.contains("events")) return;
    EtcdWatchBatch batch;
    batch.header_revision = int_field(r.value("header", json::object()), "revision");
    for (const auto& e : r["events"]) {
      EtcdEvent event;
      event.deleted = e.value("type", std::string()) == "DELETE";
      auto kv = key_value(e.value("kv", json::object()));
      if (!kv) {
        failure = kv.error();
        done = true;
        return;
      }
      event.kv = std::move(kv).value();
      batch.events.push_back(std::move(event));
    }
    if (!(*on_batch)(batch)) done = true;
  }
};

size_t watch_data(char* data, size_t size, size_t count, void* user) {
  auto* w = static_cast<WatchStream*>(user);
  if (w->buffer.size() + size * count > kMaxAnswerBytes) {
    w->failure = make_error("etcd: watch: a message larger than " +
                            std::to_string(kMaxAnswerBytes >> 20) + " MiB was refused");
    return 0;
  }
  w->buffer.append(data, size * count);
  size_t nl;
  while (!w->done && (nl = w->buffer.find('\n')) != std::string::npos) {
    std::string text = w->buffer.substr(0, nl);
    w->buffer.erase(0, nl + 1);
    w->line(text);
  }
  // Some gateways do not end each object with a newline: a whole object parses on its own (tried
  // only when the data so far ends like one, so a long message is not parsed once per chunk).
  if (!w->done && !w->buffer.empty() && w->buffer.back() == '}' && json::accept(w->buffer)) {
    std::string text;
    text.swap(w->buffer);
    w->line(text);
  }
  return w->done ? 0 : size * count;  // 0 ends the transfer
}

int watch_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* w = static_cast<WatchStream*>(user);
  return (*w->cancelled)() ? 1 : 0;
}

}  // namespace

Status EtcdClient::watch_range(const std::string& key, const std::string& range_end,
                               int64_t start_revision,
                               const std::function<bool(const EtcdWatchBatch&)>& on_batch,
                               const std::function<bool()>& cancelled) {
  if (!options_.username.empty() && token().empty()) {
    if (auto s = authenticate(); !s) return s;
  }
  json create{{"key", b64(key)}, {"range_end", b64(range_end)}};
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  const std::string body = json{{"create_request", create}}.dump();
  const std::string endpoint = current_endpoint();
  std::unique_ptr<curl_slist, SlistDeleter> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"));
  if (const std::string t = token(); !t.empty())
    headers.reset(curl_slist_append(headers.release(), ("Authorization: " + t).c_str()));
  auto c = make_handle(options_, endpoint + "/v3/watch", body, headers.get());
  if (!c) return make_error("etcd: cannot create a curl handle");
  WatchStream w;
  w.on_batch = &on_batch;
  w.cancelled = &cancelled;
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, watch_data);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &w);
  curl_easy_setopt(c.get(), CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c.get(), CURLOPT_XFERINFOFUNCTION, watch_progress);
  curl_easy_setopt(c.get(), CURLOPT_XFERINFODATA, &w);
  // A silent stream is a dead one: etcd sends progress notifications only on request, so the
  // caller restarts the watch when nothing arrived for a while (the member may be cut off).
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_TIME, 30L);
  const CURLcode rc = curl_easy_perform(c.get());
  if (w.failure) return *w.failure;
  if (cancelled() || w.done) return Ok{};
  if (rc != CURLE_OK) {
    // Next time, another endpoint first.
    std::lock_guard lock(mutex_);
    if (!options_.endpoints.empty()) preferred_ = (preferred_ + 1) % options_.endpoints.size();
    return make_error(std::string("etcd: watch: ") + curl_easy_strerror(rc), endpoint);
  }
  return make_error("etcd: watch: the stream ended", endpoint);
}

}  // namespace meridian::fleet
