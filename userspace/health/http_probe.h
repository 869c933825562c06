// HttpProbe: one HTTP or HTTPS request for an HTTP, HTTPS, HTTP_STR_MATCH or HTTPS_STR_MATCH
// check. Healthy: TCP connect within connect_timeout_ms (4 s), an accepted status (2xx/3xx by
// default) within response_timeout_ms (2 s) after the connect, and for _STR_MATCH the search string
// within the first 5120 body bytes (case-sensitive). Redirects are not followed.
#pragma once

#include <curl/curl.h>

#include <string>

#include "health/probe.h"

namespace meridian::health {

class HttpProbe : public Transfer {
 public:
  HttpProbe(const HealthCheckConfig& check, ProbeDone done);
  ~HttpProbe() override;

  void finished(CURLcode code) override;
  std::optional<SteadyTime> deadline() override;

  // How the request is addressed, decided from the check (exposed for tests and docs).
  struct Addressing {
    std::string url;
    std::string connect_to;   // CURLOPT_CONNECT_TO entry, or empty
    std::string host_header;  // an explicit "Host: ..." header, or empty (libcurl's own)
  };
  static Addressing addressing(const HealthCheckConfig& check);

 private:
  static size_t on_header(char* data, size_t size, size_t count, void* self);
  static size_t on_body(char* data, size_t size, size_t count, void* self);

  HealthCheckConfig check_;
  ProbeDone done_;
  SteadyTime start_;
  curl_slist* connect_to_ = nullptr;
  curl_slist* headers_ = nullptr;
  bool headers_done_ = false;  // the final response's header block has ended
  bool found_ = false;         // search string seen
  std::string body_;           // at most kSearchWindowBytes
  char error_[CURL_ERROR_SIZE] = {};
};

}  // namespace meridian::health
