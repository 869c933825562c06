// HTTP/HTTPS probe on libcurl (rules in http_probe.h and docs/health-checks.md).
#include "health/http_probe.h"

#include <algorithm>

namespace meridian::health {

HttpProbe::Addressing HttpProbe::addressing(const HealthCheckConfig& check) {
  Addressing a;
  const std::string scheme = check.is_tls() ? "https://" : "http://";
  const uint16_t port = check.effective_port();
  const bool default_port = port == (check.is_tls() ? 443 : 80);
  const std::string port_text = std::to_string(port);
  // With a name in the URL libcurl writes the Host header (":port" only off the default port)
  // and, for HTTPS, sends the name as SNI. HTTPS without SNI must put the address in the URL
  // instead and set Host by hand, since libcurl always sends SNI for a name.
  const bool name_in_url =
      !check.fqdn.empty() && !(check.is_tls() && !check.enable_sni && !check.ip_address.empty());
  if (name_in_url) {
    a.url = scheme + check.fqdn + ":" + port_text + check.resource_path;
    if (!check.ip_address.empty()) {
      a.connect_to =
          check.fqdn + ":" + port_text + ":" + url_host(check.ip_address) + ":" + port_text;
    }
  } else {
    a.url = scheme + url_host(check.ip_address) + ":" + port_text + check.resource_path;
    if (!check.fqdn.empty()) {
      a.host_header = check.fqdn + (default_port ? "" : ":" + port_text);
    }
  }
  return a;
}

HttpProbe::HttpProbe(const HealthCheckConfig& check, ProbeDone done)
    : check_(check), done_(std::move(done)), start_(std::chrono::steady_clock::now()) {
  CURL* e = easy();
  Addressing a = addressing(check_);
  curl_easy_setopt(e, CURLOPT_URL, a.url.c_str());
  if (!a.connect_to.empty()) {
    connect_to_ = curl_slist_append(nullptr, a.connect_to.c_str());
    curl_easy_setopt(e, CURLOPT_CONNECT_TO, connect_to_);
  }
  if (!a.host_header.empty()) {
    headers_ = curl_slist_append(headers_, ("Host: " + a.host_header).c_str());
  }
  headers_ = curl_slist_append(headers_, "User-Agent: meridian-health-check");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  // Every probe measures a fresh TCP connect, as the 4 s rule is about connecting.
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(check_.connect_timeout_ms));
  // Backstop; the exact "status within N s of the connect" is deadline().
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(check_.connect_timeout_ms + check_.response_timeout_ms));
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, check_.verify_certificate ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, check_.verify_certificate ? 2L : 0L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HttpProbe::on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &HttpProbe::on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
}

HttpProbe::~HttpProbe() {
  curl_slist_free_all(connect_to_);
  curl_slist_free_all(headers_);
}

size_t HttpProbe::on_header(char* data, size_t size, size_t count, void* self_ptr) {
  auto* self = static_cast<HttpProbe*>(self_ptr);
  size_t bytes = size * count;
  std::string_view line(data, bytes);
  if (line != "\r\n" && line != "\n") return bytes;
  long status = 0;
  curl_easy_getinfo(self->easy(), CURLINFO_RESPONSE_CODE, &status);
  if (status < 200) return bytes;  // end of an interim 1xx block
  self->headers_done_ = true;
  // The verdict needs no body unless a string must be found in an accepted response: stop
  // here rather than read what may be a large body.
  if (!self->check_.is_string_match() || !self->check_.accepts_status(status)) return 0;
  return bytes;
}

size_t HttpProbe::on_body(char* data, size_t size, size_t count, void* self_ptr) {
  auto* self = static_cast<HttpProbe*>(self_ptr);
  size_t bytes = size * count;
  if (!self->check_.is_string_match()) return 0;
  size_t take = std::min(bytes, kSearchWindowBytes - self->body_.size());
  // Search only the new bytes plus the tail that a match could straddle.
  size_t from = self->body_.size() >= self->check_.search_string.size()
                    ? self->body_.size() - self->check_.search_string.size() + 1
                    : 0;
  self->body_.append(data, take);
  if (self->body_.find(self->check_.search_string, from) != std::string::npos) {
    self->found_ = true;
    return 0;  // verdict known: stop the transfer
  }
  if (self->body_.size() >= kSearchWindowBytes) return 0;  // not within the window
  return bytes;
}

std::optional<SteadyTime> HttpProbe::deadline() {
  if (headers_done_) return std::nullopt;
  curl_off_t connect_us = 0;
  curl_easy_getinfo(easy(), CURLINFO_CONNECT_TIME_T, &connect_us);
  if (connect_us <= 0) return std::nullopt;  // libcurl's connect timeout applies until then
  return start_ + std::chrono::microseconds(connect_us) +
         std::chrono::milliseconds(check_.response_timeout_ms);
}

void HttpProbe::finished(CURLcode code) {
  ProbeOutcome outcome;
  outcome.latency = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start_);
  if (headers_done_) {
    long status = 0;
    curl_easy_getinfo(easy(), CURLINFO_RESPONSE_CODE, &status);
    if (!check_.accepts_status(status)) {
      outcome.reason = "HTTP " + std::to_string(status);
    } else if (check_.is_string_match() && !found_) {
      outcome.reason =
          code == CURLE_OK || code == CURLE_WRITE_ERROR
              ? "search string not found"
              : "search string not found (" + transfer_failure_reason(easy(), code, error_) + ")";
    } else {
      outcome.success = true;
    }
  } else {
    outcome.reason =
        code == CURLE_OK ? "no HTTP status" : transfer_failure_reason(easy(), code, error_);
  }
  done_(std::move(outcome));
}

}  // namespace meridian::health
