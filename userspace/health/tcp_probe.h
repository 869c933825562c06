// TcpProbe: a TCP check is healthy when a connection is established within connect_timeout_ms
// (10 s by default). libcurl's CONNECT_ONLY mode does the non-blocking connect on the shared loop.
#pragma once

#include <curl/curl.h>

#include "health/probe.h"

namespace meridian::health {

class TcpProbe : public Transfer {
 public:
  TcpProbe(const HealthCheckConfig& check, ProbeDone done);
  void finished(CURLcode code) override;

 private:
  ProbeDone done_;
  SteadyTime start_;
  std::string url_;
  char error_[CURL_ERROR_SIZE] = {};
};

}  // namespace meridian::health
