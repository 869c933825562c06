// TCP connect probe (rules in tcp_probe.h).
#include "health/tcp_probe.h"

namespace meridian::health {

TcpProbe::TcpProbe(const HealthCheckConfig& check, ProbeDone done)
    : done_(std::move(done)), start_(std::chrono::steady_clock::now()) {
  const std::string& target = check.ip_address.empty() ? check.fqdn : check.ip_address;
  // The scheme only tells libcurl how to parse the URL; CONNECT_ONLY sends nothing.
  url_ = "http://" + url_host(target) + ":" + std::to_string(check.effective_port()) + "/";
  CURL* e = easy();
  curl_easy_setopt(e, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(check.connect_timeout_ms));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(check.connect_timeout_ms));
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_);
}

void TcpProbe::finished(CURLcode code) {
  ProbeOutcome outcome;
  outcome.latency = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start_);
  outcome.success = code == CURLE_OK;
  if (!outcome.success) outcome.reason = transfer_failure_reason(easy(), code, error_);
  done_(std::move(outcome));
}

}  // namespace meridian::health
