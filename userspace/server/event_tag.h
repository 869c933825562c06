// EventTag: what an epoll registration refers to, so one worker loop can dispatch UDP sockets,
// TCP listeners, TCP connections and the stop signal without a lookup per event.
#pragma once

#include <cstdint>

namespace meridian::server {

enum class EventKind : uint8_t { kUdpSocket, kTcpListener, kTcpConnection, kStop };

// Registered objects derive from EventTag; epoll_event.data.ptr points at the tag.
struct EventTag {
  EventKind kind;
  int fd = -1;
};

}  // namespace meridian::server
