// The control-API call of meridianctl: builds the client from the connection options, reads the
// token, and turns the daemon's status into the documented exit code.
#include "api/api_call.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "control/control_client.h"

namespace meridian::ctl {

using nlohmann::json;

void add_connection(CLI::App* cmd, Connection& c) {
  cmd->add_option("--socket", c.socket, "meridiand's control socket")->capture_default_str();
  cmd->add_option("--url", c.url,
                  "Reach the control API over TCP instead, e.g. http://127.0.0.1:8053 (needs "
                  "--token-file or MERIDIAN_TOKEN)");
  cmd->add_option("--token-file", c.token_file, "File whose first line is the bearer token");
  cmd->add_option("--cacert", c.ca_file,
                  "With an https:// --url: verify meridiand's certificate with this CA file (PEM)");
  cmd->add_flag("--json", c.as_json, "Print the daemon's JSON answer");
}

void on_run(CLI::App* cmd, ApiCommands& commands, std::function<int()> action) {
  cmd->callback([&commands, action = std::move(action)] { commands.run = action; });
}

std::string with_exit_text(const std::string& text) {
  return text + "\n" + kExitText;
}

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "meridianctl: %s\n", message.c_str());
  return code;
}

Result<std::string> read_input(const std::string& spec) {
  if (spec.starts_with("{") || spec.starts_with("[")) return spec;
  std::string path = spec.starts_with("file://") ? spec.substr(7) : spec;
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error("cannot read " + path + ": " + std::strerror(errno));
    text << in.rdbuf();
  }
  return text.str();
}

Call call(const Connection& c, const std::string& method, const std::string& path,
          const std::string& body, const std::string& content_type) {
  control::ClientOptions options;
  options.unix_socket = c.socket;
  options.url_base = c.url;
  options.ca_file = c.ca_file;
  std::string token_file = c.token_file;
  if (const char* env = std::getenv("MERIDIAN_TOKEN"); env && token_file.empty())
    options.token = env;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) return Call{fail(kExitUsage, "cannot read the token file " + token_file), {}, {}};
    std::getline(in, options.token);
    while (!options.token.empty() && (options.token.back() == '\r' || options.token.back() == ' '))
      options.token.pop_back();
  }
  control::ControlClient client(options);
  auto response = client.request(method, path, body, content_type);
  if (!response) return Call{fail(kExitUnavailable, response.error().to_string()), {}, {}};
  Call out;
  out.text = response->body;
  if (auto j = response->json()) out.body = *j;
  if (response->status >= 200 && response->status < 300) return out;
  std::string message = "HTTP " + std::to_string(response->status);
  if (out.body.is_object() && out.body.contains("Error")) {
    const json& e = out.body["Error"];
    message = e.value("Code", "Error") + ": " + e.value("Message", "");
  } else if (!out.text.empty()) {
    message += ": " + out.text;
  }
  out.code = fail(response->status >= 500                              ? kExitServerError
                  : response->status == 401 || response->status == 403 ? kExitUnavailable
                                                                       : kExitRefused,
                  message);
  return out;
}

std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", ch);
      out += buf;
    }
  }
  return out;
}

void print_json(const json& j) {
  std::printf("%s\n", j.dump(2).c_str());
}

std::string str(const json& j, const char* key, const char* fallback) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return fallback;
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

void print_change(const json& j) {
  const json& c = j.contains("ChangeInfo") ? j["ChangeInfo"] : j;
  std::printf("change %s: %s (submitted %s, %s changes)%s%s\n", str(c, "Id").c_str(),
              str(c, "Status").c_str(), str(c, "SubmittedAt").c_str(), str(c, "Changes").c_str(),
              c.contains("Comment") ? ", " : "",
              c.contains("Comment") ? str(c, "Comment").c_str() : "");
}

int send_batch(const Connection& c, const std::string& zone, const json& batch) {
  auto r = call(c, "POST", "/v1/zones/" + url_encode(zone) + "/rrsets", batch.dump());
  if (r.code) return r.code;
  if (c.as_json) return print_json(r.body), kExitOk;
  print_change(r.body);
  return kExitOk;
}

}  // namespace meridian::ctl
