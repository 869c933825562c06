// InstanceLock: an exclusive flock(2) held for meridiand's lifetime on what one instance owns
// (its state database, its pin directory), so a second meridiand configured with the same one
// refuses to start instead of splitting the answers between two datasets.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace meridian::daemon {

class InstanceLock {
 public:
  // Locks `path` (a directory, or a file that is created when missing). Fails when another
  // process holds it, naming that process; the lock goes with the process, so a killed
  // meridiand never leaves one behind. `what` names the resource in errors ("state database").
  static Result<InstanceLock> acquire(const std::string& path, std::string_view what);

  InstanceLock(InstanceLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  InstanceLock& operator=(InstanceLock&& other) noexcept;
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;
  ~InstanceLock();

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace meridian::daemon
