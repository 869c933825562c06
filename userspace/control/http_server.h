// ControlServer: meridiand's control API transport. HTTP/1.1 with JSON bodies (libmicrohttpd),
// on a Unix socket (file permissions are the access control) and, optionally, on TCP where every
// request must carry "Authorization: Bearer <token>". Requests are dispatched to handlers by
// method and path pattern; the server knows nothing of zones or health checks.
//
// Slow or idle clients cannot hold the listener (see ConnectionGuard). Refusals it makes itself,
// before any handler runs, each with a JSON body {"Error": {"Code",
// "Message"}}: 401 (TCP without a valid token, compared in constant time), 404 (no route),
// 405 (route exists, other method), 411/413 (body too large or without a length when one is
// needed), 400 (body not valid JSON where a handler declared it wants JSON). A slow or
// malformed client never blocks serving: handlers run on the server's own threads and DNS
// serving has its own.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace meridian::control {

struct HttpRequest {
  std::string method;                        // "GET", "POST", ...
  std::string path;                          // without the query string, percent-decoded
  std::map<std::string, std::string> query;  // ?a=b&c=d, decoded
  std::vector<std::string> params;           // the values matched by {…} segments, in order
  std::string body;                          // raw bytes
  std::optional<nlohmann::json> json;        // parsed body when the route wants JSON
  bool over_tcp = false;                     // came in on the TCP listener (token checked)
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;

  static HttpResponse json(int status, const nlohmann::json& j);
  static HttpResponse text(int status, std::string body,
                           std::string content_type = "text/plain; charset=utf-8");
  // {"Error": {"Code": code, "Message": message}} in Route 53's style, e.g. 400
  // "InvalidChangeBatch".
  static HttpResponse error(int status, std::string code, std::string message);
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

struct ControlServerOptions {
  std::string unix_socket;  // empty: no Unix socket. Created with mode 0660 (umask-proof); a
                            // stale socket file (nobody listening) is replaced, a live one is
                            // an error; removed on stop.
  std::string tcp_listen;   // "127.0.0.1:8053" / "[::1]:8053"; empty: no TCP listener
  std::string token;        // required for TCP (start() fails on TCP without a token)
  // False only for a read-only listener such as the metrics endpoint: TCP without a token.
  bool tcp_requires_token = true;
  size_t max_body_bytes = 16u << 20;  // larger requests get 413 (bodies up to twice this plus
                                      // 1 MiB are read and dropped first, larger ones are not)
  unsigned threads = 2;               // handler threads
  // Each listener: at most this many connections; when full, the oldest connection that is not
  // an authorized request in progress is closed to admit a new one (connection_guard.h).
  unsigned max_connections = 64;
  unsigned max_connections_per_source = 8;  // TCP, per /24 (IPv4) or /56 (IPv6)
  unsigned request_timeout_ms = 10000;      // to send a whole request, headers and body
  unsigned connection_timeout_s = 10;       // idle between reads or writes
  // PEM certificate chain and key: the TCP listener speaks only HTTPS (TLS through GnuTLS).
  std::string tls_certificate_pem;
  std::string tls_key_pem;
};

class ControlServer {
 public:
  explicit ControlServer(ControlServerOptions options);
  ~ControlServer();  // stops
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Routes, before start(). `pattern` is a path whose segments are literals or "{name}", e.g.
  // "/v1/zones/{id}/rrsets". `wants_json`: the body must be a JSON value (else 400).
  void route(std::string method, std::string pattern, Handler handler, bool wants_json = false);

  Status start();
  void stop();

  // The bound TCP address ("127.0.0.1:41234") after start(), e.g. when port 0 was asked for.
  std::string tcp_address() const;

  struct Counters {
    uint64_t requests = 0;
    uint64_t refused_unauthorized = 0;  // 401
    uint64_t refused_bad_request = 0;   // 400/404/405/411/413 made by the server itself
    uint64_t refused_connections = 0;   // per-source cap, or full of authorized work
    uint64_t evicted_connections = 0;   // closed to admit a newer one
    uint64_t timed_out_requests = 0;    // not sent whole within request_timeout_ms
  };
  Counters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::control
