// ControlServer and ControlClient over real sockets: a Unix socket in a temporary directory and
// TCP on 127.0.0.1, the libcurl client, and raw bytes written by hand where the client is too
// polite (malformed HTTP, slow clients, headers the client does not expose).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "control/control_client.h"
#include "control/http_server.h"
#include "unit/test_files.h"

namespace meridian::control {
namespace {

using meridian::testing::TempDir;

// An open client socket, closed on scope exit.
class RawSocket {
 public:
  explicit RawSocket(int fd) : fd_(fd) {}
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  int fd() const { return fd_; }

  static RawSocket unix_socket(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return RawSocket(-1);
    }
    return RawSocket(fd);
  }
  static RawSocket tcp4(const std::string& host_port) {
    const size_t colon = host_port.rfind(':');
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
    ::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return RawSocket(-1);
    }
    return RawSocket(fd);
  }

  bool send_all(const std::string& data) const {
    size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Everything until the peer closes (or `timeout` passes without data).
  std::string read_until_close(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
    std::string out;
    char buf[4096];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) break;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_;
};

int status_of(const std::string& raw_response) {
  // "HTTP/1.1 405 Method Not Allowed"
  if (raw_response.rfind("HTTP/1.", 0) != 0 || raw_response.size() < 12) return 0;
  return std::stoi(raw_response.substr(9, 3));
}

// A server with an echo route, a counting route, a route with {params} and a throwing route.
class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    socket_ = dir_.path() + "/run/control.sock";
    options_.unix_socket = socket_;
  }

  void add_routes(ControlServer& server) {
    server.route(
        "POST", "/v1/echo",
        [](const HttpRequest& req) {
          return HttpResponse::json(200, {{"echo", *req.json}, {"tcp", req.over_tcp}});
        },
        /*wants_json=*/true);
    server.route("GET", "/v1/echo", [](const HttpRequest& req) {
      return HttpResponse::json(200, {{"method", req.method}, {"path", req.path}});
    });
    server.route("GET", "/v1/count", [this](const HttpRequest&) {
      calls_.fetch_add(1);
      return HttpResponse::text(200, "counted");
    });
    server.route("GET", "/v1/zones/{zone}/rrsets/{name}", [](const HttpRequest& req) {
      nlohmann::json q = nlohmann::json::object();
      for (const auto& [k, v] : req.query) q[k] = v;
      return HttpResponse::json(200, {{"params", req.params}, {"query", q}, {"path", req.path}});
    });
    server.route("GET", "/v1/zones/export/rrsets/{name}",
                 [](const HttpRequest&) { return HttpResponse::text(200, "literal wins"); });
    server.route("DELETE", "/v1/zones/{zone}", [](const HttpRequest& req) {
      return HttpResponse::json(200, {{"deleted", req.params.at(0)}});
    });
    server.route("GET", "/v1/throw", [](const HttpRequest&) -> HttpResponse {
      throw std::runtime_error("handler exploded");
    });
  }

  std::unique_ptr<ControlServer> start_server() {
    auto server = std::make_unique<ControlServer>(options_);
    add_routes(*server);
    auto s = server->start();
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().to_string());
    return s.ok() ? std::move(server) : nullptr;
  }

  ControlClient unix_client() const { return ControlClient(ClientOptions{socket_, "", "", 5000}); }

  TempDir dir_;
  std::string socket_;
  ControlServerOptions options_;
  std::atomic<int> calls_{0};
};

TEST_F(ControlServerTest, UnixSocketGetAndPostJson) {
  auto server = start_server();
  ASSERT_TRUE(server);
  auto client = unix_client();

  auto get = client.request("GET", "/v1/echo");
  ASSERT_TRUE(get.ok()) << get.error().to_string();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->content_type, "application/json");
  ASSERT_TRUE(get->json());
  EXPECT_EQ((*get->json())["path"], "/v1/echo");

  auto post = client.request("POST", "/v1/echo", R"({"a":[1,2,{"b":"c"}]})");
  ASSERT_TRUE(post.ok()) << post.error().to_string();
  EXPECT_EQ(post->status, 200);
  ASSERT_TRUE(post->json());
  EXPECT_EQ((*post->json())["echo"], nlohmann::json::parse(R"({"a":[1,2,{"b":"c"}]})"));
  EXPECT_EQ((*post->json())["tcp"], false);

  auto text = client.request("GET", "/v1/count");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->body, "counted");
  EXPECT_EQ(text->content_type, "text/plain; charset=utf-8");
  EXPECT_FALSE(text->json());

  EXPECT_EQ(server->counters().requests, 3u);
  EXPECT_EQ(server->counters().refused_bad_request, 0u);
}

TEST_F(ControlServerTest, SocketModeIs0660EvenWithUmaskZero) {
  const mode_t old = ::umask(0);
  auto server = start_server();
  ::umask(old);
  ASSERT_TRUE(server);
  struct stat st {};
  ASSERT_EQ(::lstat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_mode & S_IWOTH, 0u);
  // The parent directory was created, without access for others.
  ASSERT_EQ(::stat((dir_.path() + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0007, 0u);
}

TEST_F(ControlServerTest, SocketModeIs0660WithStrictUmask) {
  const mode_t old = ::umask(077);
  auto server = start_server();
  ::umask(old);
  ASSERT_TRUE(server);
  struct stat st {};
  ASSERT_EQ(::lstat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
}

TEST_F(ControlServerTest, StopRemovesSocketAndIsIdempotent) {
  auto server = start_server();
  ASSERT_TRUE(server);
  server->stop();
  struct stat st {};
  EXPECT_NE(::lstat(socket_.c_str(), &st), 0);
  server->stop();
  auto r = unix_client().request("GET", "/v1/echo");
  EXPECT_FALSE(r.ok());
  // And it starts again on the same path.
  auto again = server->start();
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  auto r2 = unix_client().request("GET", "/v1/echo");
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->status, 200);
}

TEST_F(ControlServerTest, StaleSocketIsReplaced) {
  // A socket file nobody listens on, as a crashed daemon leaves it.
  ::mkdir((dir_.path() + "/run").c_str(), 0750);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  struct stat st {};
  ASSERT_EQ(::lstat(socket_.c_str(), &st), 0);

  auto server = start_server();
  ASSERT_TRUE(server);
  auto r = unix_client().request("GET", "/v1/echo");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
}

TEST_F(ControlServerTest, LiveSocketIsRefused) {
  auto first = start_server();
  ASSERT_TRUE(first);
  ControlServer second(options_);
  auto s = second.start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().what, "control socket " + socket_ + " is in use by another process");
  second.stop();
  // The first one still serves, and its socket file is still there.
  auto r = unix_client().request("GET", "/v1/echo");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
}

TEST_F(ControlServerTest, NonSocketFileIsRefused) {
  ::mkdir((dir_.path() + "/run").c_str(), 0750);
  dir_.write("run/control.sock", "not a socket");
  ControlServer server(options_);
  auto s = server.start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().what.find("not a socket"), std::string::npos) << s.error().what;
  struct stat st {};
  ASSERT_EQ(::lstat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));  // left alone
}

TEST_F(ControlServerTest, PathParamsAndQuery) {
  auto server = start_server();
  ASSERT_TRUE(server);
  auto r = unix_client().request(
      "GET", "/v1/zones/example.com./rrsets/a%2Fb%20c?type=AAAA&name=www%20x&flag");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = *r->json();
  EXPECT_EQ(j["params"], nlohmann::json::array({"example.com.", "a/b c"}));
  EXPECT_EQ(j["query"]["type"], "AAAA");
  EXPECT_EQ(j["query"]["name"], "www x");
  EXPECT_EQ(j["query"]["flag"], "");
  EXPECT_EQ(j["path"], "/v1/zones/example.com./rrsets/a/b c");

  // A literal segment is preferred to a {param} in the same position.
  auto lit = unix_client().request("GET", "/v1/zones/export/rrsets/x");
  ASSERT_TRUE(lit.ok());
  EXPECT_EQ(lit->body, "literal wins");

  auto del = unix_client().request("DELETE", "/v1/zones/example.org.");
  ASSERT_TRUE(del.ok());
  EXPECT_EQ((*del->json())["deleted"], "example.org.");
}

TEST_F(ControlServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto server = start_server();
  ASSERT_TRUE(server);
  auto r = unix_client().request("GET", "/v1/nothing/here");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  ASSERT_TRUE(r->json());
  EXPECT_EQ((*r->json())["Error"]["Code"], "NoSuchRoute");

  auto m = unix_client().request("PUT", "/v1/echo", "{}");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->status, 405);
  EXPECT_EQ((*m->json())["Error"]["Code"], "MethodNotAllowed");

  // The Allow header, which the client does not expose, read off the wire.
  RawSocket raw = RawSocket::unix_socket(socket_);
  ASSERT_GE(raw.fd(), 0);
  ASSERT_TRUE(raw.send_all("PATCH /v1/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string resp = raw.read_until_close();
  EXPECT_EQ(status_of(resp), 405) << resp;
  EXPECT_NE(resp.find("Allow: POST, GET\r\n"), std::string::npos) << resp;
  EXPECT_EQ(server->counters().refused_bad_request, 3u);
}

TEST_F(ControlServerTest, HandlerExceptionIs500AndServerSurvives) {
  auto server = start_server();
  ASSERT_TRUE(server);
  auto r = unix_client().request("GET", "/v1/throw");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ((*r->json())["Error"]["Message"], "handler exploded");
  auto ok = unix_client().request("GET", "/v1/echo");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200);
}

TEST_F(ControlServerTest, BodyOverLimitIs413AndServerGoesOn) {
  options_.max_body_bytes = 1024;
  auto server = start_server();
  ASSERT_TRUE(server);
  const std::string big = "\"" + std::string(64 * 1024, 'x') + "\"";
  auto r = unix_client().request("POST", "/v1/echo", big);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ((*r->json())["Error"]["Code"], "RequestTooLarge");

  // Exactly at the limit is fine.
  const std::string fits = "\"" + std::string(1022, 'y') + "\"";
  ASSERT_EQ(fits.size(), 1024u);
  auto ok = unix_client().request("POST", "/v1/echo", fits);
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(ok->status, 200);

  // Written by hand without waiting for "100 Continue": the body is read and dropped, and the
  // 413 arrives (not a reset connection).
  RawSocket raw = RawSocket::unix_socket(socket_);
  ASSERT_GE(raw.fd(), 0);
  raw.send_all(
      "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 5000\r\nConnection: close\r\n\r\n" +
      std::string(5000, 'z'));
  EXPECT_EQ(status_of(raw.read_until_close()), 413);

  // A length far over the limit is refused at once, before any of the body.
  RawSocket huge = RawSocket::unix_socket(socket_);
  ASSERT_GE(huge.fd(), 0);
  huge.send_all(
      "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100000000\r\n\r\n" +
      std::string(2000, 'z'));
  EXPECT_EQ(status_of(huge.read_until_close()), 413);

  auto after = unix_client().request("GET", "/v1/echo");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 200);
}

TEST_F(ControlServerTest, ChunkedBodyIs411) {
  auto server = start_server();
  ASSERT_TRUE(server);
  RawSocket raw = RawSocket::unix_socket(socket_);
  ASSERT_GE(raw.fd(), 0);
  raw.send_all(
      "POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
  EXPECT_EQ(status_of(raw.read_until_close()), 411);
}

TEST_F(ControlServerTest, MalformedOrMissingJsonIs400) {
  auto server = start_server();
  ASSERT_TRUE(server);
  auto r = unix_client().request("POST", "/v1/echo", "{not json");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  ASSERT_TRUE(r->json());
  EXPECT_EQ((*r->json())["Error"]["Code"], "MalformedInput");
  const std::string message = (*r->json())["Error"]["Message"];
  EXPECT_EQ(message.rfind("request body is not valid JSON: ", 0), 0u) << message;
  EXPECT_NE(message.find("parse error"), std::string::npos) << message;

  auto empty = unix_client().request("POST", "/v1/echo");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->status, 400);
  EXPECT_EQ((*empty->json())["Error"]["Code"], "MalformedInput");
  EXPECT_EQ(server->counters().refused_bad_request, 2u);
}

TEST_F(ControlServerTest, MalformedHttpIsRefusedAndServerGoesOn) {
  auto server = start_server();
  ASSERT_TRUE(server);
  for (const std::string& garbage :
       {std::string("GARBAGE\r\n\r\n"), std::string("GET /v1/echo HTTP/9.9\r\n\r\n"),
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
        std::string("GET /v1/echo HTTP/1.1\r\nBad Header Without Colon\r\n\r\n")}) {
    RawSocket raw = RawSocket::unix_socket(socket_);
    ASSERT_GE(raw.fd(), 0);
    raw.send_all(garbage);
    ::shutdown(raw.fd(), SHUT_WR);
    // libmicrohttpd 0.9.75 answers or closes at once, except for bytes without a line end,
    // which it keeps until the connection timeout even after the half-close: do not wait.
    const std::string resp = raw.read_until_close(std::chrono::milliseconds(500));
    // Either a 4xx/5xx from MHD, or the connection closed without an answer.
    if (!resp.empty()) {
      EXPECT_GE(status_of(resp), 400) << resp;
    }
    auto ok = unix_client().request("GET", "/v1/echo");
    ASSERT_TRUE(ok.ok()) << ok.error().to_string();
    EXPECT_EQ(ok->status, 200);
  }
}

TEST_F(ControlServerTest, TcpNeedsTheBearerToken) {
  options_.tcp_listen = "127.0.0.1:0";
  options_.token = "s3cret-token";
  auto server = start_server();
  ASSERT_TRUE(server);
  const std::string addr = server->tcp_address();
  ASSERT_EQ(addr.rfind("127.0.0.1:", 0), 0u) << addr;
  ASSERT_NE(addr, "127.0.0.1:0");
  const std::string base = "http://" + addr;

  auto none = ControlClient({"", base, "", 5000}).request("GET", "/v1/count");
  ASSERT_TRUE(none.ok()) << none.error().to_string();
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ((*none->json())["Error"]["Code"], "Unauthorized");

  auto wrong = ControlClient({"", base, "s3cret-tokeN", 5000}).request("GET", "/v1/count");
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 401);
  auto prefix = ControlClient({"", base, "s3cret", 5000}).request("GET", "/v1/count");
  ASSERT_TRUE(prefix.ok());
  EXPECT_EQ(prefix->status, 401);
  // Refused before routing: an unknown path without a token is 401, not 404.
  auto unknown = ControlClient({"", base, "", 5000}).request("GET", "/nope");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 401);
  // A refused POST never reaches the JSON handler either.
  auto post = ControlClient({"", base, "bad", 5000}).request("POST", "/v1/echo", "{}");
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->status, 401);

  // Other spellings of the header are refused: it must be exactly "Bearer <token>".
  RawSocket raw = RawSocket::tcp4(addr);
  ASSERT_GE(raw.fd(), 0);
  raw.send_all(
      "GET /v1/count HTTP/1.1\r\nHost: x\r\nAuthorization: bearer s3cret-token\r\n"
      "Connection: close\r\n\r\n");
  const std::string resp = raw.read_until_close();
  EXPECT_EQ(status_of(resp), 401) << resp;
  EXPECT_NE(resp.find("WWW-Authenticate: Bearer\r\n"), std::string::npos) << resp;
  EXPECT_EQ(calls_.load(), 0);

  auto right = ControlClient({"", base, "s3cret-token", 5000}).request("GET", "/v1/count");
  ASSERT_TRUE(right.ok());
  EXPECT_EQ(right->status, 200);
  EXPECT_EQ(calls_.load(), 1);
  auto echo = ControlClient({"", base, "s3cret-token", 5000}).request("POST", "/v1/echo", "[1]");
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ((*echo->json())["tcp"], true);

  // The Unix socket of the same server needs no token.
  auto local = unix_client().request("GET", "/v1/count");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->status, 200);
  EXPECT_EQ(calls_.load(), 2);
  EXPECT_EQ(server->counters().refused_unauthorized, 6u);
}

TEST_F(ControlServerTest, TcpOnIpv6Loopback) {
  options_.unix_socket.clear();
  options_.tcp_listen = "[::1]:0";
  options_.token = "t";
  ControlServer server(options_);
  add_routes(server);
  auto s = server.start();
  if (!s.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << s.error().to_string();
  ASSERT_EQ(server.tcp_address().rfind("[::1]:", 0), 0u) << server.tcp_address();
  auto r =
      ControlClient({"", "http://" + server.tcp_address(), "t", 5000}).request("GET", "/v1/count");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
}

TEST_F(ControlServerTest, StartRefusesBadTcpSettings) {
  options_.tcp_listen = "127.0.0.1:0";
  {
    ControlServer server(options_);
    auto s = server.start();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().what.find("token"), std::string::npos) << s.error().what;
  }
  // Nothing was left behind by the refused start.
  struct stat st {};
  EXPECT_NE(::lstat(socket_.c_str(), &st), 0);
  options_.token = "t";
  for (const char* bad : {"127.0.0.1", "127.0.0.1:99999", ":80", "[::1:80", "::1:80"}) {
    options_.tcp_listen = bad;
    ControlServer server(options_);
    auto s = server.start();
    EXPECT_FALSE(s.ok()) << bad;
  }
  EXPECT_NE(::lstat(socket_.c_str(), &st), 0);
}

TEST_F(ControlServerTest, SlowClientDoesNotBlockOthers) {
  options_.threads = 1;
  options_.connection_timeout_s = 30;
  auto server = start_server();
  ASSERT_TRUE(server);
  // Half a request, then silence.
  RawSocket slow = RawSocket::unix_socket(socket_);
  ASSERT_GE(slow.fd(), 0);
  ASSERT_TRUE(slow.send_all("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Le"));
  RawSocket slow_body = RawSocket::unix_socket(socket_);
  ASSERT_GE(slow_body.fd(), 0);
  ASSERT_TRUE(slow_body.send_all(
      "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    auto r = ControlClient({socket_, "", "", 2000}).request("GET", "/v1/echo");
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(ControlServerTest, IdleClientIsClosedAfterTheTimeout) {
  options_.connection_timeout_s = 1;
  auto server = start_server();
  ASSERT_TRUE(server);
  RawSocket slow = RawSocket::unix_socket(socket_);
  ASSERT_GE(slow.fd(), 0);
  ASSERT_TRUE(slow.send_all("GET /v1/echo HTTP/1.1\r\n"));
  const auto start = std::chrono::steady_clock::now();
  slow.read_until_close(std::chrono::seconds(10));  // returns at EOF
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(ControlServerTest, ClientReportsMissingSocket) {
  const std::string missing = dir_.path() + "/nowhere/control.sock";
  auto r = ControlClient({missing, "", "", 2000}).request("GET", "/v1/echo");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().what, "cannot connect to the control socket " + missing +
                                ": No such file or directory (is meridiand running?)");
}

TEST_F(ControlServerTest, ClientReportsRefusedTcp) {
  // A port that was just free: bind, read it back, close.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  const std::string base = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto r = ControlClient({"", base, "t", 2000}).request("GET", "/v1/echo");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().what.find(base), std::string::npos) << r.error().what;
  EXPECT_NE(r.error().what.find("Connection refused"), std::string::npos) << r.error().what;
}

TEST_F(ControlServerTest, ConcurrentRequests) {
  options_.threads = 4;
  auto server = start_server();
  ASSERT_TRUE(server);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      ControlClient client({socket_, "", "", 10000});
      for (int i = 0; i < 50; ++i) {
        const nlohmann::json body = {{"t", t}, {"i", i}};
        auto r = client.request("POST", "/v1/echo", body.dump());
        if (r.ok() && r->status == 200 && r->json() && (*r->json())["echo"] == body) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(server->counters().requests, 400u);
}

}  // namespace
}  // namespace meridian::control
