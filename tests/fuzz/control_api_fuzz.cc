// Fuzzes the control API's request handling through the real ControlServer (libmicrohttpd) on
// its Unix socket and its token-checked TCP listener: the input's first byte picks the listener,
// the rest is sent as raw bytes (request line, headers, body). Routes have the daemon's shapes
// (path parameters, JSON bodies, raw bodies); the JSON handlers copy and dump the parsed value,
// which is what overflowed the stack on deep nesting before the parser bounded it. Checked:
// every answer is an HTTP status line, no handler ever fails (500), and the server keeps
// accepting.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "control/http_server.h"
#include "fuzz_check.h"

namespace {

using meridian::control::ControlServer;
using meridian::control::ControlServerOptions;
using meridian::control::HttpRequest;
using meridian::control::HttpResponse;

constexpr const char* kToken = "fuzz-token-0123456789abcdef";

using meridian::fuzz::check;

struct Fixture {
  std::string dir;
  std::string socket_path;
  sockaddr_in tcp{};
  std::unique_ptr<ControlServer> server;

  Fixture() {
    char templ[] = "/tmp/meridian-control-fuzz-XXXXXX";
    check(mkdtemp(templ) != nullptr, "mkdtemp");
    dir = templ;
    socket_path = dir + "/control.sock";
    ControlServerOptions options;
    options.unix_socket = socket_path;
    options.tcp_listen = "127.0.0.1:0";
    options.token = kToken;
    options.max_body_bytes = 1 << 20;
    // Inputs that never finish a request are left to the server's deadline while the next
    // ones run, so the table must hold a few seconds' worth of them.
    options.request_timeout_ms = 1000;
    options.max_connections = 4096;
    options.max_connections_per_source = 4096;
    server = std::make_unique<ControlServer>(options);
    // What a handler does with a parsed body: copy it, walk it, print it (all recursive).
    auto use_json = [](const HttpRequest& r) {
      nlohmann::json copy = *r.json;
      return HttpResponse::json(200, {{"size", copy.dump().size()}, {"params", r.params}});
    };
    auto echo = [](const HttpRequest& r) {
      return HttpResponse::json(
          200, {{"params", r.params}, {"query", r.query.size()}, {"body", r.body.size()}});
    };
    server->route("GET", "/v1/zones", echo);
    server->route("POST", "/v1/zones", use_json, true);
    server->route("GET", "/v1/zones/{zone}", echo);
    server->route("DELETE", "/v1/zones/{zone}", echo);
    server->route("GET", "/v1/zones/{zone}/rrsets", echo);
    server->route("POST", "/v1/zones/{zone}/rrsets", use_json, true);
    server->route("PUT", "/v1/zones/{zone}/import", echo);
    server->route("POST", "/v1/healthchecks", use_json, true);
    server->route("GET", "/v1/healthchecks/{id}", echo);
    auto started = server->start();
    check(started.ok(), "server start");
    const std::string address = server->tcp_address();  // "127.0.0.1:PORT"
    tcp.sin_family = AF_INET;
    tcp.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
    inet_pton(AF_INET, "127.0.0.1", &tcp.sin_addr);
  }
};

Fixture& fixture() {
  static Fixture* f = new Fixture;  // never destroyed: the fuzzer exits without unwinding
  return *f;
}

// True once `reply` holds a first response with its whole body (the server may keep the
// connection open after it).
bool whole_response(const std::string& reply) {
  const size_t end = reply.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  const size_t at = reply.find("Content-Length: ");
  if (at == std::string::npos || at > end) return true;
  const size_t length = std::strtoul(reply.c_str() + at + 16, nullptr, 10);
  return reply.size() >= end + 4 + length;
}

// Sends `request` and returns what came back before the server closed or answered whole (or
// 250 ms passed: MHD waits for the rest of an unfinished request line until its deadline).
std::string exchange(bool over_tcp, const uint8_t* data, size_t size) {
  Fixture& f = fixture();
  const int fd = socket(over_tcp ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(fd >= 0, "socket");
  int rc;
  if (over_tcp) {
    rc = connect(fd, reinterpret_cast<const sockaddr*>(&f.tcp), sizeof f.tcp);
  } else {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, f.socket_path.c_str(), f.socket_path.size() + 1);
    rc = connect(fd, reinterpret_cast<const sockaddr*>(&un), sizeof un);
  }
  check(rc == 0, "the server accepts connections");
  size_t sent = 0;
  while (sent < size) {
    const ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer and close before reading everything
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::string reply;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline && !whole_response(reply)) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return reply;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool over_tcp = data[0] & 1;
  std::string request(reinterpret_cast<const char*>(data + 1), size - 1);
  // Half of the TCP inputs carry the token, so the routes behind it are reached too.
  if (over_tcp && (data[0] & 2)) {
    const size_t eol = request.find("\r\n");
    if (eol != std::string::npos)
      request.insert(eol + 2, std::string("Authorization: Bearer ") + kToken + "\r\n");
  }
  const std::string reply =
      exchange(over_tcp, reinterpret_cast<const uint8_t*>(request.data()), request.size());
  if (reply.empty()) return 0;  // closed without an answer (MHD refuses some garbage that way)
  check(reply.rfind("HTTP/1.", 0) == 0, "the answer starts with a status line");
  check(reply.size() >= 12, "a status line has a code");
  const std::string status = reply.substr(9, 3);
  check(status != "500", "no handler fails");
  return 0;
}
