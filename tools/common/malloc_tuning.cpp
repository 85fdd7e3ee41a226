#include "tools/common/malloc_tuning.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

extern char** environ;

namespace vc::app {

namespace {

// Requests up to this size come from the heap (glibc accepts at most HEAP_MAX_SIZE / 2 = 32 MiB
// for 64-bit processes from mallopt in some versions: the largest accepted value is used).
constexpr int kMmapThresholds[] = {256 << 20, 64 << 20, 32 << 20};
// The heap top is returned to the system only when this much is free there.
constexpr int kTrimThreshold = 1 << 30;

bool user_has_allocator_settings() {
  const char* off = std::getenv("VC_MALLOC_TUNING");
  if (off != nullptr && std::strcmp(off, "0") == 0) return true;
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return true;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "MALLOC_", 7) == 0) return true;
  }
  return false;
}

std::string apply() {
#if defined(__GLIBC__)
  if (user_has_allocator_settings()) {
    return "malloc: left as set by the environment (VC_MALLOC_TUNING=0, GLIBC_TUNABLES or "
           "MALLOC_*)";
  }
  int threshold = 0;
  for (int t : kMmapThresholds) {
    if (mallopt(M_MMAP_THRESHOLD, t) == 1) {
      threshold = t;
      break;
    }
  }
  const bool trim = mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
  if (threshold == 0 && !trim) return "malloc: glibc refused the settings; left as it was";
  const std::string heap =
      threshold > 0 ? "blocks up to " + std::to_string(threshold >> 20) + " MiB from the heap"
                    : "mmap threshold refused (glibc's default)";
  return "malloc: " + heap + ", heap kept (trim threshold " + std::to_string(kTrimThreshold >> 20) +
         " MiB); VC_MALLOC_TUNING=0 turns this off";
#else
  return "";
#endif
}

}  // namespace

std::string tune_malloc() {
  static std::once_flag once;
  std::string line;  // stays empty on later calls
  std::call_once(once, [&] { line = apply(); });
  return line;
}

}  // namespace vc::app
