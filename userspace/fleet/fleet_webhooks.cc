// One thread, blocking POSTs in order: a fleet-wide transition is rare (minutes apart at most).
#include "fleet/fleet_webhooks.h"

#include <curl/curl.h>

#include <spdlog/spdlog.h>

#include "health/webhook.h"

namespace meridian::fleet {
namespace {

constexpr size_t kMaxQueued = 1000;
constexpr long kTimeoutMs = 5000;

size_t discard(char*, size_t size, size_t count, void*) {
  return size * count;
}

// One POST; the error, or empty on a 2xx answer.
std::string post_once(const std::string& url, const std::string& body) {
  CURL* c = curl_easy_init();
  if (!c) return "cannot create a curl handle";
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, kTimeoutMs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) return curl_easy_strerror(rc);
  if (status < 200 || status > 299) return "HTTP " + std::to_string(status);
  return {};
}

}  // namespace

FleetWebhooks::FleetWebhooks(std::vector<std::string> urls) : urls_(std::move(urls)) {
  if (!urls_.empty()) thread_ = std::thread([this] { run(); });
}

FleetWebhooks::~FleetWebhooks() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FleetWebhooks::post(const health::Transition& transition) {
  if (urls_.empty()) return;
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= kMaxQueued) {
      queue_.pop_front();
      failed_ += urls_.size();
      spdlog::get("fleet")->warn("webhook queue full: the oldest transition was dropped");
    }
    queue_.push_back(health::transition_json(transition));
  }
  wake_.notify_all();
}

void FleetWebhooks::run() {
  for (;;) {
    std::string body;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        if (!queue_.empty())
          spdlog::get("fleet")->warn("stopping: {} webhook POSTs not sent", queue_.size());
        return;
      }
      body = std::move(queue_.front());
      queue_.pop_front();
    }
    for (const auto& url : urls_) {
      if (const std::string error = post_once(url, body); error.empty()) {
        delivered_++;
      } else {
        failed_++;
        spdlog::get("fleet")->warn("webhook {} failed: {}", url, error);
      }
    }
  }
}

}  // namespace meridian::fleet
