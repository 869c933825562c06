// TransferLoop: one libcurl multi handle that drives every probe and webhook POST of a checker
// concurrently on the calling thread, without a thread per transfer.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>

namespace meridian::health {

using SteadyTime = std::chrono::steady_clock::time_point;

// One libcurl easy transfer. Subclasses set options on easy() and learn the end in finished().
class Transfer {
 public:
  Transfer();
  virtual ~Transfer();
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  CURL* easy() const { return easy_; }
  // Called once when the transfer ends (CURLE_OPERATION_TIMEDOUT also for deadline() expiry).
  virtual void finished(CURLcode code) = 0;
  // A deadline libcurl cannot express (e.g. "status within 2 s of the TCP connect"). Asked after
  // every loop turn; reaching it ends the transfer with CURLE_OPERATION_TIMEDOUT.
  virtual std::optional<SteadyTime> deadline() { return std::nullopt; }

 private:
  CURL* easy_;
};

class TransferLoop {
 public:
  TransferLoop();
  ~TransferLoop();  // cancels what is still running (no finished() calls)
  TransferLoop(const TransferLoop&) = delete;
  TransferLoop& operator=(const TransferLoop&) = delete;

  // Starts a transfer; the loop owns it until it finishes or is cancelled. Returns it, or
  // nullptr if libcurl refused it (then finished() was already called with the error).
  Transfer* start(std::unique_ptr<Transfer> transfer);
  // Ends a running transfer without calling finished(). No-op for unknown pointers.
  void cancel(Transfer* transfer);
  // Waits up to `timeout` for socket activity, a libcurl timer, or wakeup(); then runs
  // transfers and calls finished() for each one that ended.
  void run_once(std::chrono::milliseconds timeout);
  // Makes a run_once() in progress return early. Safe from any thread.
  void wakeup();
  size_t running() const { return transfers_.size(); }

 private:
  void collect_finished();
  void end(Transfer* transfer, CURLcode code);

  CURLM* multi_;
  std::map<Transfer*, std::unique_ptr<Transfer>> transfers_;
};

}  // namespace meridian::health
