// ControlClient on libcurl's easy interface: one handle per request, so a client is usable from
// several threads at once.
#include "control/control_client.h"

#include <curl/curl.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <utility>

#include "common/json_parse.h"

namespace meridian::control {

namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t append_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct EasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

std::optional<nlohmann::json> ClientResponse::json() const {
  if (body.empty()) return std::nullopt;
  auto j = parse_json(body);
  if (!j) return std::nullopt;
  return std::move(j).value();
}

ControlClient::ControlClient(ClientOptions options) : options_(std::move(options)) {}

Result<ClientResponse> ControlClient::request(const std::string& method,
                                              const std::string& path_and_query,
                                              const std::string& body,
                                              const std::string& content_type) const {
  global_init_once();
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  if (!easy) return make_error("cannot initialise libcurl");
  CURL* e = easy.get();

  const bool use_socket = options_.url_base.empty();
  if (use_socket && options_.unix_socket.empty()) {
    return make_error("no control socket or URL configured");
  }
  std::string base = use_socket ? "http://localhost" : options_.url_base;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string path =
      path_and_query.empty() || path_and_query[0] != '/' ? "/" + path_and_query : path_and_query;
  const std::string url = base + path;

  char error[CURL_ERROR_SIZE] = {};
  ClientResponse resp;
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  if (use_socket) curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, options_.unix_socket.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!options_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options_.ca_file.c_str());
  // The control API is local or on a known address: never through a proxy from the environment.
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, options_.timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, options_.timeout_ms);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &append_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp.body);

  curl_slist* headers = nullptr;
  if (!options_.token.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + options_.token).c_str());
  }
  if (!body.empty() && !content_type.empty()) {
    headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
  }
  std::unique_ptr<curl_slist, SlistDeleter> header_list(headers);
  if (headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);

  const bool sends_body = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  if (method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (sends_body) {
    // Explicit size: the body may hold NULs, and a length lets the server refuse early (413).
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    if (method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method != "GET") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  const CURLcode rc = curl_easy_perform(e);
  if (rc != CURLE_OK) {
    const std::string target =
        use_socket ? "the control socket " + options_.unix_socket : options_.url_base;
    std::string reason = error[0] ? error : curl_easy_strerror(rc);
    long os_errno = 0;
    curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
    if (rc == CURLE_COULDNT_CONNECT) {
      // curl's own text names "localhost port 80" for a socket; the errno says what happened.
      if (os_errno != 0) reason = std::strerror(static_cast<int>(os_errno));
      return make_error("cannot connect to " + target + ": " + reason +
                        (use_socket ? " (is meridiand running?)" : ""));
    }
    return make_error("control request " + method + " " + path + " to " + target +
                      " failed: " + reason);
  }
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp.status);
  const char* ct = nullptr;
  if (curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) resp.content_type = ct;
  return resp;
}

}  // namespace meridian::control
