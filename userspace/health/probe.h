// The one small interface every network probe type implements: start a transfer that probes a
// check once and reports a ProbeOutcome. One type per file: http_probe (HTTP, HTTPS and their
// _STR_MATCH forms) and tcp_probe; CALCULATED checks have no transfer (calculated.h).
#pragma once

#include <curl/curl.h>

#include <functional>
#include <memory>
#include <string>

#include "health/health_check_config.h"
#include "health/health_state.h"
#include "health/transfer_loop.h"

namespace meridian::health {

// Called exactly once per probe, on the loop's thread.
using ProbeDone = std::function<void(ProbeOutcome)>;

// A transfer that probes `check` once; nullptr for CALCULATED (nothing to send).
std::unique_ptr<Transfer> make_probe(const HealthCheckConfig& check, ProbeDone done);

// Shared by the probes: the URL host for an address or name ("[::1]" for IPv6).
std::string url_host(const std::string& address_or_name);
// A failure reason for a transfer that ended with `code` before an HTTP status was judged:
// "connect timeout", "connect: Connection refused", "TLS: ...", "response timeout", ...
std::string transfer_failure_reason(CURL* easy, CURLcode code, const char* error_buffer);

}  // namespace meridian::health
