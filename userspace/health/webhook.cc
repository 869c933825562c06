// Webhook POSTs of health transitions on the shared transfer loop (see webhook.h).
#include "health/webhook.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace meridian::health {
namespace {

std::shared_ptr<spdlog::logger> health_log() {
  auto log = spdlog::get("health");
  return log ? log : spdlog::default_logger();
}

size_t discard_body(char*, size_t size, size_t count, void*) {
  return size * count;
}

}  // namespace

std::string transition_json(const Transition& transition) {
  nlohmann::json body = {
      {"check_id", transition.check_id},
      {"old_state", status_name(transition.old_state)},
      {"new_state", status_name(transition.new_state)},
      {"time", rfc3339(transition.time)},
      {"reason", transition.reason},
  };
  return body.dump();
}

class WebhookSender::Post : public Transfer {
 public:
  Post(WebhookSender& sender, TransferLoop& loop, Pending pending)
      : sender_(sender), loop_(loop), pending_(std::move(pending)) {
    CURL* e = easy();
    headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(e, CURLOPT_URL, pending_.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, pending_.body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(pending_.body.size()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(sender_.settings_.timeout_ms));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &discard_body);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_);
  }
  ~Post() override { curl_slist_free_all(headers_); }

  void finished(CURLcode code) override {
    long status = 0;
    curl_easy_getinfo(easy(), CURLINFO_RESPONSE_CODE, &status);
    sender_.in_flight_--;
    if (code == CURLE_OK && status >= 200 && status < 300) {
      sender_.delivered_++;
    } else {
      sender_.failed_++;
      health_log()->warn("webhook {}: {}", pending_.url,
                         code != CURLE_OK
                             ? std::string(error_[0] != '\0' ? error_ : curl_easy_strerror(code))
                             : "HTTP " + std::to_string(status));
    }
    sender_.start_queued(loop_);
  }

 private:
  WebhookSender& sender_;
  TransferLoop& loop_;
  Pending pending_;
  curl_slist* headers_ = nullptr;
  char error_[CURL_ERROR_SIZE] = {};
};

void WebhookSender::post(const Transition& transition, TransferLoop& loop) {
  if (settings_.urls.empty()) return;
  std::string body = transition_json(transition);
  for (const std::string& url : settings_.urls) {
    if (queue_.size() >= settings_.max_queued) {
      failed_++;
      health_log()->error("webhook {}: queue full, dropping a transition", queue_.front().url);
      queue_.pop_front();
    }
    queue_.push_back(Pending{url, body});
  }
  start_queued(loop);
}

void WebhookSender::start_queued(TransferLoop& loop) {
  while (in_flight_ < settings_.max_in_flight && !queue_.empty()) {
    Pending next = std::move(queue_.front());
    queue_.pop_front();
    in_flight_++;
    loop.start(std::make_unique<Post>(*this, loop, std::move(next)));
  }
}

}  // namespace meridian::health
