// Control API routes: HTTP method and path to Controller calls.
#include "daemon/api_routes.h"

namespace meridian::daemon {
namespace {

using control::HttpRequest;
using control::HttpResponse;
using manage::Refusal;
using nlohmann::json;

HttpResponse error_response(const Error& e) {
  const std::string message = e.to_string();
  switch (manage::refusal_of(e)) {
    case Refusal::kInvalidInput:
      return HttpResponse::error(400, "InvalidInput", message);
    case Refusal::kInvalidChangeBatch:
      return HttpResponse::error(400, "InvalidChangeBatch", message);
    case Refusal::kNoSuchZone:
      return HttpResponse::error(404, "NoSuchHostedZone", message);
    case Refusal::kNoSuchHealthCheck:
      return HttpResponse::error(404, "NoSuchHealthCheck", message);
    case Refusal::kNoSuchChange:
      return HttpResponse::error(404, "NoSuchChange", message);
    case Refusal::kConflict:
      return HttpResponse::error(409, "Conflict", message);
    case Refusal::kHealthCheckExists:
      return HttpResponse::error(409, "HealthCheckAlreadyExists", message);
    case Refusal::kVersionMismatch:
      return HttpResponse::error(409, "HealthCheckVersionMismatch", message);
    case Refusal::kUnavailable:
      return HttpResponse::error(503, "ServiceUnavailable", message);
    case Refusal::kInternal:
      break;
  }
  return HttpResponse::error(500, "InternalError", message);
}

template <typename T>
HttpResponse respond(Result<T> result, int ok_status = 200) {
  if (!result) return error_response(result.error());
  if constexpr (std::is_same_v<T, json>) {
    return HttpResponse::json(ok_status, *result);
  } else {
    return HttpResponse::text(ok_status, *result);
  }
}

std::string query(const HttpRequest& r, const std::string& key, std::string fallback = {}) {
  auto it = r.query.find(key);
  return it == r.query.end() ? fallback : it->second;
}

}  // namespace

void add_api_routes(control::ControlServer& server, Controller& c, ApiExtras extras) {
  server.route("GET", "/v1/status", [extras](const HttpRequest&) {
    return HttpResponse::json(200, extras.status ? extras.status() : json::object());
  });
  server.route("GET", "/v1/stats", [extras](const HttpRequest&) {
    return HttpResponse::json(200, extras.stats ? extras.stats() : json::object());
  });
  server.route("GET", "/v1/cluster", [extras](const HttpRequest&) {
    json status = extras.cluster ? extras.cluster() : json(nullptr);
    if (status.is_null())
      return HttpResponse::error(404, "NotAFleetMember",
                                 "this meridiand has no \"cluster\" section (single-host mode)");
    return HttpResponse::json(200, status);
  });
  server.route("GET", "/metrics", [extras](const HttpRequest&) {
    return HttpResponse::text(200, extras.metrics_text ? extras.metrics_text() : "",
                              "text/plain; version=0.0.4; charset=utf-8");
  });

  server.route("GET", "/v1/zones",
               [&c](const HttpRequest&) { return HttpResponse::json(200, c.list_zones()); });
  server.route(
      "POST", "/v1/zones",
      [&c](const HttpRequest& r) { return respond(c.create_zone(*r.json), 201); }, true);
  server.route("GET", "/v1/zones/{zone}",
               [&c](const HttpRequest& r) { return respond(c.get_zone(r.params[0])); });
  server.route("DELETE", "/v1/zones/{zone}",
               [&c](const HttpRequest& r) { return respond(c.delete_zone(r.params[0])); });
  server.route("GET", "/v1/zones/{zone}/rrsets", [&c](const HttpRequest& r) {
    manage::ListRequest list;
    list.name = query(r, "name");
    list.type = query(r, "type");
    list.start_name = query(r, "StartRecordName");
    list.start_type = query(r, "StartRecordType");
    list.start_identifier = query(r, "StartRecordIdentifier");
    list.max_items = query(r, "MaxItems");
    return respond(c.list_record_sets(r.params[0], list));
  });
  server.route(
      "POST", "/v1/zones/{zone}/rrsets",
      [&c](const HttpRequest& r) { return respond(c.change_record_sets(r.params[0], *r.json)); },
      true);
  server.route("GET", "/v1/zones/{zone}/export", [&c](const HttpRequest& r) {
    return respond(c.export_zone(r.params[0], query(r, "format", "route53-json")));
  });
  server.route("PUT", "/v1/zones/{zone}/import", [&c](const HttpRequest& r) {
    return respond(c.import_zone(r.params[0], query(r, "format", "route53-json"), r.body));
  });
  server.route("GET", "/v1/changes/{change}",
               [&c](const HttpRequest& r) { return respond(c.get_change(r.params[0])); });

  server.route("GET", "/v1/healthchecks", [&c](const HttpRequest&) {
    return HttpResponse::json(200, c.list_health_checks());
  });
  server.route(
      "POST", "/v1/healthchecks",
      [&c](const HttpRequest& r) {
        // Route 53's CreateHealthCheck (no "Id": one is generated), 201 also when the same
        // request is repeated; or a check with its own "Id", created or replaced (200).
        const json& body = *r.json;
        if (body.is_object() && !body.contains("Id") && body.contains("CallerReference"))
          return respond(c.create_health_check(body), 201);
        return respond(c.put_health_check(body));
      },
      true);
  server.route("GET", "/v1/healthchecks/{id}",
               [&c](const HttpRequest& r) { return respond(c.get_health_check(r.params[0])); });
  server.route(
      "POST", "/v1/healthchecks/{id}",
      [&c](const HttpRequest& r) { return respond(c.update_health_check(r.params[0], *r.json)); },
      true);
  server.route("DELETE", "/v1/healthchecks/{id}",
               [&c](const HttpRequest& r) { return respond(c.delete_health_check(r.params[0])); });
  server.route("GET", "/v1/tags/{type}/{id}", [&c](const HttpRequest& r) {
    return respond(c.list_tags(r.params[0], r.params[1]));
  });
  server.route(
      "POST", "/v1/tags/{type}/{id}",
      [&c](const HttpRequest& r) {
        return respond(c.change_tags(r.params[0], r.params[1], *r.json));
      },
      true);
  server.route("GET", "/v1/health",
               [&c](const HttpRequest&) { return HttpResponse::json(200, c.health_status()); });
}

}  // namespace meridian::daemon
