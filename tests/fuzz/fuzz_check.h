// check(): a fuzz target's invariant. A violation aborts, so libFuzzer reports a wrong answer
// exactly like a crash and keeps the input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace meridian::fuzz {

inline void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

}  // namespace meridian::fuzz
