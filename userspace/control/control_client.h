// ControlClient: the control API as meridianctl calls it, over the Unix socket or over TCP with a
// bearer token (libcurl). Transport failures (no socket, connection refused, timeout) are told
// apart from HTTP answers so the CLI can exit with "daemon unavailable".
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace meridian::control {

struct ClientOptions {
  std::string unix_socket;  // used when `url_base` is empty
  std::string url_base;     // e.g. "http://127.0.0.1:8053": TCP instead of the socket
  std::string token;        // sent as "Authorization: Bearer <token>" when not empty
  long timeout_ms = 30000;
  std::string ca_file;  // https: the CA certificate(s) to verify the daemon with (PEM); empty:
                        // the system's CAs
};

struct ClientResponse {
  long status = 0;
  std::string content_type;
  std::string body;
  // The body parsed when it is JSON; nullopt otherwise.
  std::optional<nlohmann::json> json() const;
};

class ControlClient {
 public:
  explicit ControlClient(ClientOptions options);
  // One request; an Error only when no HTTP answer came (what says why, e.g. "cannot connect to
  // /run/meridian/control.sock: No such file or directory").
  Result<ClientResponse> request(const std::string& method, const std::string& path_and_query,
                                 const std::string& body = {},
                                 const std::string& content_type = "application/json") const;

 private:
  ClientOptions options_;
};

}  // namespace meridian::control
