// ControlServer on libmicrohttpd (contract in http_server.h). The listening sockets are made here
// and handed to MHD, so the Unix socket's mode and the stale-socket rule are ours, not MHD's.
#include "control/http_server.h"

#include "control/connection_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/json_parse.h"

namespace meridian::control {

namespace {

std::shared_ptr<spdlog::logger> logger() {
  auto l = spdlog::get("control");
  return l ? l : spdlog::default_logger();
}

std::string errno_text(int err) {
  return std::strerror(err);
}

// Decodes %HH; a malformed escape is kept as written.
std::string percent_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Raw (still escaped) segments; empty ones are skipped so "/a//b/" is "/a/b".
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Constant time in the secret's content: every byte of the longer input is looked at.
bool constant_time_equal(std::string_view a, std::string_view b) {
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

struct Segment {
  std::string literal;
  bool param = false;
};

struct Route {
  std::string method;
  std::vector<Segment> segments;
  Handler handler;
  bool wants_json = false;
};

// Per request; created in the URI callback (which sees the raw URI, before MHD decodes "%2F"
// into a separator) and freed in the completion callback.
struct RequestContext {
  std::string raw_uri;
  bool started = false;
  bool answered = false;  // a refusal was queued before the body was read
  bool draining = false;  // the body is too large: read and dropped, then 413
  const Route* route = nullptr;
  std::vector<std::string> params;
  std::string body;
};

struct ParsedHostPort {
  std::string host;
  std::string port;
};

Result<ParsedHostPort> parse_host_port(const std::string& text) {
  ParsedHostPort hp;
  std::string rest;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return make_error("control tcp_listen \"" + text + "\" is not \"[v6-address]:port\"");
    }
    hp.host = text.substr(1, close - 1);
    rest = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      return make_error("control tcp_listen \"" + text +
                        "\" is not \"host:port\" (write IPv6 as \"[::1]:port\")");
    }
    hp.host = text.substr(0, colon);
    rest = text.substr(colon + 1);
  }
  if (hp.host.empty()) return make_error("control tcp_listen \"" + text + "\" has no host");
  if (rest.empty() || rest.size() > 5 ||
      !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoul(rest) > 65535) {
    return make_error("control tcp_listen \"" + text + "\" has no valid port");
  }
  hp.port = rest;
  return hp;
}

std::string format_address(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
  inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
}

// mkdir -p with mode 0750 for the directories it creates.
Status make_parent_dirs(const std::string& socket_path) {
  const size_t slash = socket_path.rfind('/');
  if (slash == std::string::npos || slash == 0) return Ok{};
  const std::string dir = socket_path.substr(0, slash);
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i != dir.size() && dir[i] != '/') continue;
    const std::string prefix = dir.substr(0, i);
    if (::mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST) {
      return make_error("cannot create directory " + prefix +
                        " for the control socket: " + errno_text(errno));
    }
  }
  return Ok{};
}

void mhd_log(void* /*cls*/, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  std::string_view msg(buf);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.remove_suffix(1);
  // Debug: most of what MHD reports is about misbehaving clients, which must not flood the log.
  logger()->debug("libmicrohttpd: {}", msg);
}

}  // namespace

HttpResponse HttpResponse::json(int status, const nlohmann::json& j) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse HttpResponse::text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::error(int status, std::string code, std::string message) {
  return json(status, {{"Error", {{"Code", std::move(code)}, {"Message", std::move(message)}}}});
}

struct ControlServer::Impl {
  // One per MHD daemon: the callbacks' closure, telling Unix socket and TCP requests apart.
  struct Listener {
    Impl* impl = nullptr;
    bool over_tcp = false;
    MHD_Daemon* daemon = nullptr;
    std::unique_ptr<ConnectionGuard> guard;  // outlives the daemon
  };

  ControlServerOptions options;
  std::vector<Route> routes;

  mutable std::mutex mu;  // start/stop and the fields they set
  // The listeners' guards, apart from `mu`: a handler reading counters() must never wait for
  // stop(), which holds `mu` while it waits for the handlers.
  mutable std::mutex guards_mu;
  bool running = false;
  Listener unix_listener;
  Listener tcp_listener;
  std::string tcp_address;
  bool socket_bound = false;
  dev_t socket_dev = 0;
  ino_t socket_ino = 0;

  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> refused_unauthorized{0};
  std::atomic<uint64_t> refused_bad_request{0};

  Status start_locked();
  void stop_locked();
  Result<int> open_unix_socket();
  Result<int> open_tcp_socket();
  Result<MHD_Daemon*> start_daemon(Listener& listener, int fd);

  MHD_Result handle(Listener& listener, MHD_Connection* c, const char* method,
                    const char* upload_data, size_t* upload_size, RequestContext& ctx);
  MHD_Result first_call(Listener& listener, MHD_Connection* c, const char* method,
                        RequestContext& ctx);
  MHD_Result run_handler(Listener& listener, MHD_Connection* c, const char* method,
                         RequestContext& ctx);
  MHD_Result refuse(MHD_Connection* c, const HttpResponse& r,
                    const std::vector<std::pair<std::string, std::string>>& headers = {});

  static MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method,
                               const char* version, const char* upload_data, size_t* upload_size,
                               void** con_cls);
  static MHD_Result on_accept(void* cls, const sockaddr* addr, socklen_t length);
  static void on_connection(void* cls, MHD_Connection* c, void** socket_context,
                            MHD_ConnectionNotificationCode toe);
  static void on_completed(void* cls, MHD_Connection* c, void** con_cls,
                           MHD_RequestTerminationCode toe);
};

namespace {

MHD_Result queue(MHD_Connection* c, const HttpResponse& r,
                 const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  MHD_Response* resp = MHD_create_response_from_buffer(
      r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
  for (const auto& [name, value] : headers) {
    MHD_add_response_header(resp, name.c_str(), value.c_str());
  }
  const MHD_Result ret = MHD_queue_response(c, static_cast<unsigned>(r.status), resp);
  MHD_destroy_response(resp);
  return ret;
}

void* on_uri(void* /*cls*/, const char* uri, MHD_Connection* /*c*/) {
  try {
    auto* ctx = new RequestContext;
    ctx->raw_uri = uri ? uri : "";
    return ctx;
  } catch (...) {
    return nullptr;
  }
}

// The guard's handle for a connection (set when MHD reported it opened).
ConnectionGuard::Connection* guarded(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info ? static_cast<ConnectionGuard::Connection*>(info->socket_context) : nullptr;
}

}  // namespace

MHD_Result ControlServer::Impl::on_accept(void* cls, const sockaddr* addr, socklen_t length) {
  auto* listener = static_cast<Listener*>(cls);
  return listener->guard->admit(addr, length) ? MHD_YES : MHD_NO;
}

void ControlServer::Impl::on_connection(void* cls, MHD_Connection* c, void** socket_context,
                                        MHD_ConnectionNotificationCode toe) {
  auto* listener = static_cast<Listener*>(cls);
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    const MHD_ConnectionInfo* fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const MHD_ConnectionInfo* peer = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (fd == nullptr) return;
    *socket_context = listener->guard->opened(fd->connect_fd, peer ? peer->client_addr : nullptr);
  } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
    listener->guard->closed(static_cast<ConnectionGuard::Connection*>(*socket_context));
    *socket_context = nullptr;
  }
}

void ControlServer::Impl::on_completed(void* cls, MHD_Connection* c, void** con_cls,
                                       MHD_RequestTerminationCode /*toe*/) {
  delete static_cast<RequestContext*>(*con_cls);
  *con_cls = nullptr;
  static_cast<Listener*>(cls)->guard->request_finished(guarded(c));
}

MHD_Result ControlServer::Impl::on_request(void* cls, MHD_Connection* c, const char* url,
                                           const char* method, const char* /*version*/,
                                           const char* upload_data, size_t* upload_size,
                                           void** con_cls) {
  auto* listener = static_cast<Listener*>(cls);
  try {
    auto* ctx = static_cast<RequestContext*>(*con_cls);
    if (!ctx) {  // the URI callback could not allocate; use the decoded URL
      ctx = new RequestContext;
      ctx->raw_uri = url ? url : "";
      *con_cls = ctx;
    }
    return listener->impl->handle(*listener, c, method, upload_data, upload_size, *ctx);
  } catch (const std::exception& e) {
    logger()->error("control request failed: {}", e.what());
    return MHD_NO;  // closes the connection
  } catch (...) {
    return MHD_NO;
  }
}

MHD_Result ControlServer::Impl::refuse(
    MHD_Connection* c, const HttpResponse& r,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  if (r.status == 401) {
    refused_unauthorized.fetch_add(1, std::memory_order_relaxed);
  } else {
    refused_bad_request.fetch_add(1, std::memory_order_relaxed);
  }
  return queue(c, r, headers);
}

MHD_Result ControlServer::Impl::handle(Listener& listener, MHD_Connection* c, const char* method,
                                       const char* upload_data, size_t* upload_size,
                                       RequestContext& ctx) {
  if (!ctx.started) {
    ctx.started = true;
    requests.fetch_add(1, std::memory_order_relaxed);
    return first_call(listener, c, method, ctx);
  }
  if (ctx.answered) {  // MHD should not call again after an early response; drop any data
    *upload_size = 0;
    return MHD_YES;
  }
  if (ctx.draining) {
    if (*upload_size > 0) {
      *upload_size = 0;
      return MHD_YES;
    }
    ctx.answered = true;
    return refuse(c, HttpResponse::error(413, "RequestTooLarge",
                                         "request body is larger than " +
                                             std::to_string(options.max_body_bytes) + " bytes"));
  }
  if (*upload_size > 0) {
    // Content-Length was checked up front; this guards the accumulated size regardless.
    if (ctx.body.size() + *upload_size > options.max_body_bytes) return MHD_NO;
    ctx.body.append(upload_data, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  return run_handler(listener, c, method, ctx);
}

MHD_Result ControlServer::Impl::first_call(Listener& listener, MHD_Connection* c,
                                           const char* method, RequestContext& ctx) {
  // Authorization first, so nothing (not even which routes exist) is told without a token.
  if (listener.over_tcp && options.tcp_requires_token) {
    const char* auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const std::string expected = "Bearer " + options.token;
    if (!auth || !constant_time_equal(auth, expected)) {
      ctx.answered = true;
      return refuse(c,
                    HttpResponse::error(401, "Unauthorized",
                                        "a valid \"Authorization: Bearer <token>\" header is "
                                        "required on the TCP control listener"),
                    {{"WWW-Authenticate", "Bearer"}});
    }
  }
  listener.guard->authorized(guarded(c));

  const std::string_view raw(ctx.raw_uri);
  const std::string_view raw_path = raw.substr(0, raw.find('?'));
  const auto segs = split_path(raw_path);
  const Route* best = nullptr;
  std::vector<bool> best_shape;
  std::vector<std::string> allowed;
  for (const Route& r : routes) {
    if (r.segments.size() != segs.size()) continue;
    bool match = true;
    std::vector<bool> shape;  // literal segments rank above {params}, position by position
    for (size_t i = 0; i < segs.size() && match; ++i) {
      if (!r.segments[i].param && r.segments[i].literal != percent_decode(segs[i])) match = false;
      shape.push_back(!r.segments[i].param);
    }
    if (!match) continue;
    if (std::find(allowed.begin(), allowed.end(), r.method) == allowed.end()) {
      allowed.push_back(r.method);
    }
    if (r.method != method) continue;
    if (!best || shape > best_shape) {
      best = &r;
      best_shape = std::move(shape);
    }
  }
  const std::string path = percent_decode(raw_path);
  if (!best) {
    ctx.answered = true;
    if (allowed.empty()) {
      return refuse(c, HttpResponse::error(404, "NoSuchRoute", "no route for " + path));
    }
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    return refuse(c,
                  HttpResponse::error(405, "MethodNotAllowed",
                                      std::string("method ") + method + " is not allowed on " +
                                          path + " (allowed: " + allow + ")"),
                  {{"Allow", allow}});
  }
  ctx.route = best;
  for (size_t i = 0; i < segs.size(); ++i) {
    if (best->segments[i].param) ctx.params.push_back(percent_decode(segs[i]));
  }

  // Sizes are checked before reading: a refusal queued now makes MHD skip the body and close.
  const char* length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
  const char* encoding = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
  if (length) {
    errno = 0;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(length, &end, 10);
    // A body somewhat over the limit is read and dropped before the 413, so a client that
    // sends it without waiting for the answer reads the 413 instead of a reset connection;
    // one far over it is refused at once and the connection closed.
    const unsigned long long drain_limit = 2ull * options.max_body_bytes + (1u << 20);
    if (errno == 0 && end != length && n > options.max_body_bytes && n <= drain_limit) {
      ctx.draining = true;
      return MHD_YES;
    }
    if (errno != 0 || end == length || n > options.max_body_bytes) {
      ctx.answered = true;
      return refuse(c, HttpResponse::error(413, "RequestTooLarge",
                                           "request body is larger than " +
                                               std::to_string(options.max_body_bytes) + " bytes"));
    }
  } else if (encoding) {
    // A chunked body's size is unknown until read, and MHD 0.9.75 refuses a response queued
    // mid-body (it could only drop the connection), so a length is required.
    ctx.answered = true;
    return refuse(c, HttpResponse::error(411, "LengthRequired",
                                         "a request body must come with a Content-Length"));
  }
  return MHD_YES;
}

MHD_Result ControlServer::Impl::run_handler(Listener& listener, MHD_Connection* c,
                                            const char* method, RequestContext& ctx) {
  HttpRequest req;
  req.method = method;
  const std::string_view raw(ctx.raw_uri);
  req.path = percent_decode(raw.substr(0, raw.find('?')));
  MHD_get_connection_values(
      c, MHD_GET_ARGUMENT_KIND,
      [](void* cls, MHD_ValueKind, const char* key, const char* value) -> MHD_Result {
        auto* q = static_cast<std::map<std::string, std::string>*>(cls);
        if (key) q->insert_or_assign(key, value ? value : "");
        return MHD_YES;
      },
      &req.query);
  req.params = std::move(ctx.params);
  req.body = std::move(ctx.body);
  req.over_tcp = listener.over_tcp;
  if (ctx.route->wants_json) {
    if (req.body.empty()) {
      return refuse(c, HttpResponse::error(400, "MalformedInput",
                                           "request body is empty; a JSON value is required"));
    }
    auto parsed = parse_json(req.body);
    if (!parsed) {
      return refuse(c,
                    HttpResponse::error(400, "MalformedInput",
                                        "request body is not valid JSON: " + parsed.error().what));
    }
    req.json = std::move(parsed).value();
  }
  listener.guard->handler_started(guarded(c));
  HttpResponse resp;
  try {
    resp = ctx.route->handler(req);
  } catch (const std::exception& e) {
    logger()->error("control handler for {} {} failed: {}", req.method, req.path, e.what());
    resp = HttpResponse::error(500, "InternalError", e.what());
  } catch (...) {
    logger()->error("control handler for {} {} failed with an unknown exception", req.method,
                    req.path);
    resp = HttpResponse::error(500, "InternalError", "unknown error");
  }
  return queue(c, resp);
}

Result<int> ControlServer::Impl::open_unix_socket() {
  const std::string& path = options.unix_socket;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return make_error("control socket path " + path + " is too long (at most " +
                      std::to_string(sizeof addr.sun_path - 1) + " bytes)");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  auto* sa = reinterpret_cast<const sockaddr*>(&addr);

  if (auto s = make_parent_dirs(path); !s) return s.error();

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return make_error("control socket path " + path + " exists and is not a socket");
    }
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return make_error("cannot create a Unix socket: " + errno_text(errno));
    const int rc = ::connect(probe, sa, sizeof addr);
    const int err = errno;
    ::close(probe);
    if (rc == 0) {
      return make_error("control socket " + path + " is in use by another process");
    }
    if (err != ECONNREFUSED) {
      return make_error("cannot check the existing control socket " + path + ": " +
                        errno_text(err));
    }
    // Nobody listens: left behind by a process that died.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return make_error("cannot remove the stale control socket " + path + ": " +
                        errno_text(errno));
    }
    logger()->info("removed stale control socket {}", path);
  }

  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return make_error("cannot create a Unix socket: " + errno_text(errno));
  // Linux creates the socket file with the socket inode's mode minus the umask, so restricting
  // the inode first means the file is never world-accessible, whatever the umask; the chmod
  // after bind then undoes a umask stricter than 0660. The process umask is left alone, as it
  // is shared with other threads.
  ::fchmod(fd, 0660);
  if (::bind(fd, sa, sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    return make_error("cannot bind the control socket " + path + ": " + errno_text(err));
  }
  if (::chmod(path.c_str(), 0660) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return make_error("cannot set the mode of the control socket " + path + ": " + errno_text(err));
  }
  if (::lstat(path.c_str(), &st) == 0) {
    socket_bound = true;
    socket_dev = st.st_dev;
    socket_ino = st.st_ino;
  }
  if (::listen(fd, 64) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    socket_bound = false;
    return make_error("cannot listen on the control socket " + path + ": " + errno_text(err));
  }
  return fd;
}

Result<int> ControlServer::Impl::open_tcp_socket() {
  auto hp = parse_host_port(options.tcp_listen);
  if (!hp) return hp.error();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(hp->host.c_str(), hp->port.c_str(), &hints, &res); rc != 0) {
    return make_error("control tcp_listen \"" + options.tcp_listen +
                      "\": cannot resolve host: " + gai_strerror(rc));
  }
  std::string last_error = "no address";
  int fd = -1;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      last_error = errno_text(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 64) == 0) break;
    last_error = errno_text(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) {
    return make_error("cannot listen on control tcp_listen " + options.tcp_listen + ": " +
                      last_error);
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    tcp_address = format_address(ss);
  }
  return fd;
}

Result<MHD_Daemon*> ControlServer::Impl::start_daemon(Listener& listener, int fd) {
  const unsigned threads = std::max(1u, options.threads);
  ConnectionLimits limits;
  limits.max_connections = std::max(1u, options.max_connections);
  limits.max_per_source = listener.over_tcp ? options.max_connections_per_source : 0;
  limits.request_timeout = std::chrono::milliseconds(options.request_timeout_ms);
  {
    std::lock_guard lock(guards_mu);
    listener.guard = std::make_unique<ConnectionGuard>(limits);
  }
  // The guard enforces max_connections; MHD's own cap (split between the pool's threads) only
  // leaves room for connections the guard shut down and MHD has not closed yet.
  const unsigned limit = 2 * limits.max_connections + 2 * threads;
  std::vector<MHD_OptionItem> items = {
      {MHD_OPTION_LISTEN_SOCKET, fd, nullptr},
      {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(limit), nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(options.connection_timeout_s), nullptr},
      {MHD_OPTION_URI_LOG_CALLBACK, reinterpret_cast<intptr_t>(&on_uri), nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&on_completed), &listener},
      {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&on_connection), &listener},
  };
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  if (listener.over_tcp && !options.tls_certificate_pem.empty()) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
      ::close(fd);
      return make_error("control TLS: this libmicrohttpd was built without TLS support");
    }
    flags |= MHD_USE_TLS;
    // MHD reads both while starting (GnuTLS copies them); the options keep them alive anyway.
    items.push_back(
        {MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(options.tls_certificate_pem.c_str())});
    items.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(options.tls_key_pem.c_str())});
  }
  // A pool of one is refused with a warning: one internal thread is the same thing.
  if (threads > 1) {
    items.push_back({MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(threads), nullptr});
  }
  items.push_back({MHD_OPTION_END, 0, nullptr});
  struct stat before {};
  ::fstat(fd, &before);
  MHD_Daemon* d = MHD_start_daemon(flags, 0, &on_accept, &listener, &on_request, &listener,
                                   // First, so that start-up messages go to spdlog too.
                                   MHD_OPTION_EXTERNAL_LOGGER, &mhd_log, nullptr, MHD_OPTION_ARRAY,
                                   items.data(), MHD_OPTION_END);
  if (!d) {
    // MHD closes a passed socket on some failures and not on others; close it only if the
    // number still names the same socket (not a descriptor another thread opened since).
    struct stat after {};
    if (::fstat(fd, &after) == 0 && after.st_dev == before.st_dev &&
        after.st_ino == before.st_ino) {
      ::close(fd);
    }
    return make_error(std::string("cannot start the control HTTP server on ") +
                      (listener.over_tcp ? options.tcp_listen : options.unix_socket) +
                      (flags & MHD_USE_TLS ? " (check the TLS certificate and key)" : ""));
  }
  return d;  // MHD owns the socket now and closes it in MHD_stop_daemon
}

Status ControlServer::Impl::start_locked() {
  if (running) return make_error("control server already started");
  if (options.unix_socket.empty() && options.tcp_listen.empty()) {
    return make_error("control server has neither a Unix socket nor a TCP listener");
  }
  if (!options.tcp_listen.empty() && options.tcp_requires_token && options.token.empty()) {
    return make_error("control tcp_listen " + options.tcp_listen +
                      " requires a token (TCP requests are authorized by bearer token)");
  }
  unix_listener = Listener{this, false, nullptr, nullptr};
  tcp_listener = Listener{this, true, nullptr, nullptr};
  running = true;  // so stop_locked() cleans up a partial start
  if (!options.unix_socket.empty()) {
    auto fd = open_unix_socket();
    if (!fd) {
      stop_locked();
      return fd.error();
    }
    auto d = start_daemon(unix_listener, *fd);
    if (!d) {
      stop_locked();
      return d.error();
    }
    unix_listener.daemon = *d;
  }
  if (!options.tcp_listen.empty()) {
    auto fd = open_tcp_socket();
    if (!fd) {
      stop_locked();
      return fd.error();
    }
    auto d = start_daemon(tcp_listener, *fd);
    if (!d) {
      stop_locked();
      return d.error();
    }
    tcp_listener.daemon = *d;
  }
  return Ok{};
}

void ControlServer::Impl::stop_locked() {
  if (!running) return;
  running = false;
  for (Listener* l : {&unix_listener, &tcp_listener}) {
    if (l->daemon) MHD_stop_daemon(l->daemon);
    l->daemon = nullptr;
    std::lock_guard lock(guards_mu);
    l->guard.reset();  // after the daemon: MHD reports every close first
  }
  // Remove the socket file only if it is still the one we bound (not a successor's).
  struct stat st {};
  if (socket_bound && ::lstat(options.unix_socket.c_str(), &st) == 0 && st.st_dev == socket_dev &&
      st.st_ino == socket_ino) {
    ::unlink(options.unix_socket.c_str());
  }
  socket_bound = false;
  tcp_address.clear();
}

ControlServer::ControlServer(ControlServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

ControlServer::~ControlServer() {
  stop();
}

void ControlServer::route(std::string method, std::string pattern, Handler handler,
                          bool wants_json) {
  Route r;
  r.method = std::move(method);
  for (std::string_view seg : split_path(pattern)) {
    Segment s;
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      s.param = true;
    } else {
      s.literal = std::string(seg);
    }
    r.segments.push_back(std::move(s));
  }
  r.handler = std::move(handler);
  r.wants_json = wants_json;
  std::lock_guard lock(impl_->mu);
  // Requests read the route table without a lock, so it is frozen while serving.
  if (impl_->running) {
    logger()->error("control route {} {} added after start(); ignored", r.method, pattern);
    return;
  }
  impl_->routes.push_back(std::move(r));
}

Status ControlServer::start() {
  std::lock_guard lock(impl_->mu);
  return impl_->start_locked();
}

void ControlServer::stop() {
  std::lock_guard lock(impl_->mu);
  impl_->stop_locked();
}

std::string ControlServer::tcp_address() const {
  std::lock_guard lock(impl_->mu);
  return impl_->tcp_address;
}

ControlServer::Counters ControlServer::counters() const {
  Counters c;
  c.requests = impl_->requests.load(std::memory_order_relaxed);
  c.refused_unauthorized = impl_->refused_unauthorized.load(std::memory_order_relaxed);
  c.refused_bad_request = impl_->refused_bad_request.load(std::memory_order_relaxed);
  std::lock_guard lock(impl_->guards_mu);
  for (const auto* l : {&impl_->unix_listener, &impl_->tcp_listener}) {
    if (!l->guard) continue;
    const auto g = l->guard->counters();
    c.refused_connections += g.refused_source + g.refused_full;
    c.evicted_connections += g.evicted;
    c.timed_out_requests += g.timed_out;
  }
  return c;
}

}  // namespace meridian::control
