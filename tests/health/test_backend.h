// TestBackend: a real HTTP/1.1 (optionally TLS) server on a loopback socket whose replies the test
// controls (status, body, delay, close without reply) and which records what each request
// carried (path, Host header, SNI, body). Thread per connection; for tests only.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace meridian::health::testing {

struct BackendReply {
  int status = 200;
  std::string body = "ok";
  std::chrono::milliseconds delay{0};  // before the status line is sent
  bool close_without_reply = false;
};

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::string host;  // the Host header
  std::string sni;   // TLS server name, empty without TLS or without SNI
  std::string body;
};

struct TlsFiles {
  std::string cert;
  std::string key;
};

// Writes a self-signed certificate for `name` (also as subjectAltName) into `dir` with the
// openssl command-line tool. nullopt if openssl failed.
std::optional<TlsFiles> make_self_signed_certificate(const std::string& dir,
                                                     const std::string& name);

class TestBackend {
 public:
  // Listens on address:port (port 0: the kernel picks one). ok() tells whether it listens.
  explicit TestBackend(const std::string& address = "127.0.0.1", uint16_t port = 0,
                       std::optional<TlsFiles> tls = std::nullopt);
  ~TestBackend();
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  bool ok() const { return listen_fd_ >= 0; }
  const std::string& error() const { return error_; }
  uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }

  void set_reply(BackendReply reply);
  std::vector<ReceivedRequest> requests() const;
  size_t request_count() const;
  // Waits until at least `count` requests arrived, up to `timeout`.
  bool wait_for_requests(size_t count, std::chrono::milliseconds timeout) const;
  // Closes the listener (new connects are refused) and joins every connection thread.
  void stop();

 private:
  void accept_loop();
  void serve(int fd);

  std::string address_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  void* ssl_ctx_ = nullptr;  // SSL_CTX*, kept opaque to spare tests the OpenSSL headers
  std::string error_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  BackendReply reply_;
  std::vector<ReceivedRequest> requests_;
  std::vector<std::thread> connections_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
};

// A listening socket whose accept queue is full: connects to it time out instead of completing
// (the kernel drops the SYNs). Used for connect-timeout tests without leaving loopback.
class FullBacklogListener {
 public:
  FullBacklogListener();
  ~FullBacklogListener();
  bool ok() const { return ok_; }
  uint16_t port() const { return port_; }

 private:
  int listen_fd_ = -1;
  std::vector<int> fillers_;
  uint16_t port_ = 0;
  bool ok_ = false;
};

// A port on 127.0.0.1 with nothing listening (bound, then closed): connects are refused.
uint16_t unused_loopback_port();

}  // namespace meridian::health::testing
