// The libcurl multi loop shared by probes and webhooks (see transfer_loop.h).
#include "health/transfer_loop.h"

#include <algorithm>
#include <mutex>
#include <vector>

namespace meridian::health {
namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

Transfer::Transfer() {
  global_init_once();
  easy_ = curl_easy_init();
  curl_easy_setopt(easy_, CURLOPT_PRIVATE, this);
  // Threads and signals: libcurl must never raise SIGALRM/SIGPIPE in the daemon.
  curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
  // Health checks and webhooks go straight to their targets, never through an environment proxy.
  curl_easy_setopt(easy_, CURLOPT_PROXY, "");
  curl_easy_setopt(easy_, CURLOPT_NOPROXY, "*");
  // A timed-out name lookup must not block the loop: without this libcurl joins its resolver
  // thread, i.e. waits out getaddrinfo (glibc: 5 s x 2 attempts). The thread is left to finish
  // on its own and frees its data then (tests/health/fault_test.cc, resolver black hole).
  curl_easy_setopt(easy_, CURLOPT_QUICK_EXIT, 1L);
}

Transfer::~Transfer() {
  curl_easy_cleanup(easy_);
}

TransferLoop::TransferLoop() {
  global_init_once();
  multi_ = curl_multi_init();
}

TransferLoop::~TransferLoop() {
  for (auto& [raw, transfer] : transfers_) curl_multi_remove_handle(multi_, raw->easy());
  transfers_.clear();
  curl_multi_cleanup(multi_);
}

Transfer* TransferLoop::start(std::unique_ptr<Transfer> transfer) {
  Transfer* raw = transfer.get();
  CURLMcode code = curl_multi_add_handle(multi_, raw->easy());
  if (code != CURLM_OK) {
    raw->finished(CURLE_FAILED_INIT);
    return nullptr;
  }
  transfers_.emplace(raw, std::move(transfer));
  return raw;
}

void TransferLoop::cancel(Transfer* transfer) {
  auto found = transfers_.find(transfer);
  if (found == transfers_.end()) return;
  curl_multi_remove_handle(multi_, transfer->easy());
  transfers_.erase(found);
}

void TransferLoop::end(Transfer* transfer, CURLcode code) {
  auto found = transfers_.find(transfer);
  if (found == transfers_.end()) return;
  curl_multi_remove_handle(multi_, transfer->easy());
  std::unique_ptr<Transfer> owned = std::move(found->second);
  transfers_.erase(found);
  owned->finished(code);
}

void TransferLoop::run_once(std::chrono::milliseconds timeout) {
  // Our own deadlines shorten the wait so they are enforced on time.
  auto now = std::chrono::steady_clock::now();
  for (auto& [raw, transfer] : transfers_) {
    if (auto deadline = raw->deadline()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - now);
      timeout = std::clamp(left, std::chrono::milliseconds(0), timeout);
    }
  }
  int ignored = 0;
  curl_multi_poll(multi_, nullptr, 0, static_cast<int>(timeout.count()), &ignored);
  int running = 0;
  curl_multi_perform(multi_, &running);
  collect_finished();

  now = std::chrono::steady_clock::now();
  std::vector<Transfer*> expired;
  for (auto& [raw, transfer] : transfers_) {
    if (auto deadline = raw->deadline(); deadline && *deadline <= now) expired.push_back(raw);
  }
  for (Transfer* raw : expired) end(raw, CURLE_OPERATION_TIMEDOUT);
}

void TransferLoop::collect_finished() {
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    Transfer* transfer = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
    CURLcode code = message->data.result;
    // `message` is invalid once the handle is removed: read everything first.
    end(transfer, code);
  }
}

void TransferLoop::wakeup() {
  curl_multi_wakeup(multi_);
}

}  // namespace meridian::health
