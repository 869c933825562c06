// InstanceLock on flock(2); the holder's pid is read from /proc/locks, which lists every lock
// with its owner and the locked file's device and inode.
#include "daemon/instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace meridian::daemon {
namespace {

// The pid holding a lock on the file (dev, ino), or 0 when /proc/locks does not say.
long lock_holder(dev_t dev, ino_t ino) {
  std::ifstream locks("/proc/locks");
  std::string line;
  std::ostringstream want;
  want << std::hex << (major(dev) < 0x10 ? "0" : "") << major(dev) << ":"
       << (minor(dev) < 0x10 ? "0" : "") << minor(dev) << ":" << std::dec << ino;
  while (std::getline(locks, line)) {
    // "1: FLOCK  ADVISORY  WRITE 1234 00:1d:5678 0 EOF"; waiters are marked "->".
    std::istringstream fields(line);
    std::string number, kind, mode, access, pid, file;
    if (!(fields >> number >> kind)) continue;
    if (kind == "->") continue;
    if (!(fields >> mode >> access >> pid >> file)) continue;
    if (kind == "FLOCK" && file == want.str()) return std::strtol(pid.c_str(), nullptr, 10);
  }
  return 0;
}

std::string process_name(long pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

}  // namespace

Result<InstanceLock> InstanceLock::acquire(const std::string& path, std::string_view what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECTORY);
  if (fd < 0 && (errno == ENOTDIR || errno == ENOENT))
    fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_CREAT, 0600);
  if (fd < 0) {
    return make_error("cannot open the " + std::string(what) + " lock: " + std::strerror(errno),
                      path);
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return InstanceLock(fd);
  const int err = errno;
  struct stat st {};
  const long pid = ::fstat(fd, &st) == 0 ? lock_holder(st.st_dev, st.st_ino) : 0;
  ::close(fd);
  if (err != EWOULDBLOCK) {
    return make_error("cannot lock the " + std::string(what) + ": " + std::strerror(err), path);
  }
  std::string holder = "another process";
  if (pid > 0) {
    const std::string name = process_name(pid);
    holder = (name.empty() ? "process" : name) + " (pid " + std::to_string(pid) + ")";
  }
  return make_error("the " + std::string(what) + " is in use by " + holder +
                        ", another meridiand instance; stop it first, or give this one its own",
                    path);
}

InstanceLock& InstanceLock::operator=(InstanceLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace meridian::daemon
