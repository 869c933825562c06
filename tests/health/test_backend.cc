// The health tests' controllable HTTP/TLS backend (see test_backend.h).
#include "test_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdlib>
#include <cstring>

namespace meridian::health::testing {
namespace {

bool fill_address(const std::string& address, uint16_t port, sockaddr_storage& ss, socklen_t& len) {
  std::memset(&ss, 0, sizeof(ss));
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

// Plain or TLS byte stream over one accepted socket.
class Stream {
 public:
  Stream(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ssize_t read(char* buf, size_t n) {
    return ssl_ != nullptr ? SSL_read(ssl_, buf, static_cast<int>(n)) : ::recv(fd_, buf, n, 0);
  }
  bool write_all(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ssl_ != nullptr
                      ? SSL_write(ssl_, data.data() + done, static_cast<int>(data.size() - done))
                      : ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

 private:
  int fd_;
  SSL* ssl_;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::optional<TlsFiles> make_self_signed_certificate(const std::string& dir,
                                                     const std::string& name) {
  TlsFiles files{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
  std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -days 1 -subj /CN=" +
      name + " -addext subjectAltName=DNS:" + name + " -keyout " + files.key + " -out " +
      files.cert + " >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) return std::nullopt;
  return files;
}

TestBackend::TestBackend(const std::string& address, uint16_t port, std::optional<TlsFiles> tls)
    : address_(address) {
  // A client that gives up mid-body must not kill the test process.
  signal(SIGPIPE, SIG_IGN);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!fill_address(address, port, ss, len)) {
    error_ = "bad address " + address;
    return;
  }
  if (tls) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_file(ctx, tls->cert.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, tls->key.c_str(), SSL_FILETYPE_PEM) != 1) {
      SSL_CTX_free(ctx);
      error_ = "cannot load certificate";
      return;
    }
    ssl_ctx_ = ctx;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 128) != 0) {
    error_ = std::string("bind/listen: ") + std::strerror(errno);
    close(fd);
    return;
  }
  if (pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    close(fd);
    error_ = "pipe";
    return;
  }
  listen_fd_ = fd;
  port_ = bound_port(fd);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestBackend::~TestBackend() {
  stop();
  if (ssl_ctx_ != nullptr) SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
}

void TestBackend::set_reply(BackendReply reply) {
  std::lock_guard lock(mutex_);
  reply_ = std::move(reply);
}

std::vector<ReceivedRequest> TestBackend::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

size_t TestBackend::request_count() const {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

bool TestBackend::wait_for_requests(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
}

void TestBackend::stop() {
  if (listen_fd_ < 0) return;
  stopping_ = true;
  changed_.notify_all();
  (void)!write(wake_pipe_[1], "x", 1);
  acceptor_.join();
  close(listen_fd_);
  listen_fd_ = -1;
  std::vector<std::thread> connections;
  {
    std::lock_guard lock(mutex_);
    connections.swap(connections_);
  }
  for (std::thread& t : connections) t.join();
  close(wake_pipe_[0]);
  close(wake_pipe_[1]);
}

void TestBackend::accept_loop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) <= 0) continue;
    if (fds[1].revents != 0) break;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mutex_);
    connections_.emplace_back([this, fd] { serve(fd); });
  }
}

void TestBackend::serve(int fd) {
  timeval timeout{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  SSL* ssl = nullptr;
  ReceivedRequest request;
  if (ssl_ctx_ != nullptr) {
    ssl = SSL_new(static_cast<SSL_CTX*>(ssl_ctx_));
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {  // e.g. the client rejected the certificate
      SSL_free(ssl);
      close(fd);
      return;
    }
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    request.sni = sni != nullptr ? sni : "";
  }
  Stream stream(fd, ssl);
  std::string data;
  char buf[4096];
  size_t header_end = std::string::npos;
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos && data.size() < 65536) {
    ssize_t n = stream.read(buf, sizeof(buf));
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  if (header_end != std::string::npos) {
    size_t line_end = data.find("\r\n");
    std::string line = data.substr(0, line_end);
    size_t sp1 = line.find(' ');
    size_t sp2 = line.find(' ', sp1 + 1);
    request.method = line.substr(0, sp1);
    request.path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t content_length = 0;
    size_t pos = line_end + 2;
    while (pos < header_end) {
      size_t end = data.find("\r\n", pos);
      std::string header = data.substr(pos, end - pos);
      size_t colon = header.find(':');
      std::string name = lower(header.substr(0, colon));
      std::string value = colon == std::string::npos ? "" : header.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (name == "host") request.host = value;
      if (name == "content-length") content_length = std::strtoul(value.c_str(), nullptr, 10);
      pos = end + 2;
    }
    request.body = data.substr(header_end + 4);
    while (request.body.size() < content_length) {
      ssize_t n = stream.read(buf, sizeof(buf));
      if (n <= 0) break;
      request.body.append(buf, static_cast<size_t>(n));
    }
    BackendReply reply;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
      reply = reply_;
    }
    changed_.notify_all();
    if (reply.delay.count() > 0) {
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, reply.delay, [&] { return stopping_.load(); });
    }
    if (!reply.close_without_reply) {
      std::string response =
          "HTTP/1.1 " + std::to_string(reply.status) + " Test\r\n" +
          "Content-Type: text/plain\r\nContent-Length: " + std::to_string(reply.body.size()) +
          "\r\nLocation: /elsewhere\r\nConnection: close\r\n\r\n";
      if (stream.write_all(response)) stream.write_all(reply.body);
    }
  }
  if (ssl != nullptr) {
    SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  close(fd);
}

FullBacklogListener::FullBacklogListener() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0 ||
      listen(listen_fd_, 0) != 0) {
    return;
  }
  port_ = bound_port(listen_fd_);
  sin.sin_port = htons(port_);
  // Backlog 0 holds one completed connection; a few more make sure the queue stays full, after
  // which the kernel drops further SYNs and a connect can only time out.
  for (int i = 0; i < 3; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
    fillers_.push_back(fd);
  }
  usleep(100 * 1000);
  ok_ = true;
}

FullBacklogListener::~FullBacklogListener() {
  for (int fd : fillers_) close(fd);
  if (listen_fd_ >= 0) close(listen_fd_);
}

uint16_t unused_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
  uint16_t port = bound_port(fd);
  close(fd);
  return port;
}

}  // namespace meridian::health::testing
