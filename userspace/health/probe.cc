// Probe construction by check type, and the failure reasons the network probes share.
#include "health/probe.h"

#include <cstring>

#include "health/http_probe.h"
#include "health/tcp_probe.h"

namespace meridian::health {

std::unique_ptr<Transfer> make_probe(const HealthCheckConfig& check, ProbeDone done) {
  switch (check.type) {
    case CheckType::kHttp:
    case CheckType::kHttps:
    case CheckType::kHttpStrMatch:
    case CheckType::kHttpsStrMatch:
      return std::make_unique<HttpProbe>(check, std::move(done));
    case CheckType::kTcp:
      return std::make_unique<TcpProbe>(check, std::move(done));
    case CheckType::kCalculated:
      break;
  }
  return nullptr;
}

std::string url_host(const std::string& address_or_name) {
  return address_or_name.find(':') != std::string::npos ? "[" + address_or_name + "]"
                                                        : address_or_name;
}

std::string transfer_failure_reason(CURL* easy, CURLcode code, const char* error_buffer) {
  std::string detail = error_buffer != nullptr && error_buffer[0] != '\0'
                           ? std::string(error_buffer)
                           : std::string(curl_easy_strerror(code));
  curl_off_t connect_us = 0;
  curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT: {
      // The connect timeout also covers the name lookup; say which step ran out of time.
      if (detail.rfind("Resolving timed out", 0) == 0) return "resolve: " + detail;
      // libcurl (7.88) stamps the connect time only once TLS is up too; a local port shows that
      // the TCP connect itself completed.
      long local_port = 0;
      curl_easy_getinfo(easy, CURLINFO_LOCAL_PORT, &local_port);
      if (connect_us <= 0 && local_port == 0) return "connect timeout";
      // Connected over TCP but the TLS handshake never finished.
      curl_off_t tls_us = 0;
      const char* scheme = nullptr;
      curl_easy_getinfo(easy, CURLINFO_APPCONNECT_TIME_T, &tls_us);
      curl_easy_getinfo(easy, CURLINFO_SCHEME, &scheme);
      bool tls = scheme != nullptr &&
                 (std::strcmp(scheme, "HTTPS") == 0 || std::strcmp(scheme, "https") == 0);
      return tls && tls_us <= 0 ? "TLS: handshake timeout" : "response timeout";
    }
    case CURLE_COULDNT_CONNECT: {
      long os_errno = 0;
      curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
      return os_errno != 0 ? "connect: " + std::string(std::strerror(static_cast<int>(os_errno)))
                           : "connect: " + detail;
    }
    case CURLE_COULDNT_RESOLVE_HOST:
      return "resolve: " + detail;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
      return "TLS: " + detail;
    case CURLE_GOT_NOTHING:
      return "connection closed without a response";
    case CURLE_RECV_ERROR:
      return "receive: " + detail;
    case CURLE_SEND_ERROR:
      return "send: " + detail;
    default:
      return detail;
  }
}

}  // namespace meridian::health
