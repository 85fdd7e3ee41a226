// tools/common/malloc_tuning.h: the executables' glibc settings take effect (an 8 MiB block comes
// from the heap, not from mmap) and a user's own settings are left alone. CTest runs each test in
// a process of its own, so each sees a fresh allocator.
#include "tools/common/malloc_tuning.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#define VC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VC_ASAN 1
#endif
#endif

namespace {

// Blocks currently served by mmap (glibc).
std::size_t mmapped_blocks() { return mallinfo2().hblks; }

TEST(MallocTuning, LargeBlocksComeFromTheHeap) {
#ifdef VC_ASAN
  GTEST_SKIP() << "AddressSanitizer replaces malloc: glibc's counters stay 0";
#endif
  unsetenv("VC_MALLOC_TUNING");
  unsetenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr || std::getenv("MALLOC_MMAP_THRESHOLD_")) {
    GTEST_SKIP() << "the environment sets MALLOC_* variables";
  }
  const std::string line = vc::app::tune_malloc();
  EXPECT_NE(line.find("from the heap"), std::string::npos) << line;
  EXPECT_EQ(vc::app::tune_malloc(), "");  // once per process
  const std::size_t before = mmapped_blocks();
  void* p = std::malloc(8u << 20);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, 8u << 20);
  EXPECT_EQ(mmapped_blocks(), before);  // glibc's default would mmap it (threshold 128 KiB)
  std::free(p);
}

TEST(MallocTuning, UserSettingsAreLeftAlone) {
#ifdef VC_ASAN
  GTEST_SKIP() << "AddressSanitizer replaces malloc: glibc's counters stay 0";
#endif
  setenv("VC_MALLOC_TUNING", "0", 1);
  const std::string line = vc::app::tune_malloc();
  EXPECT_NE(line.find("left as set"), std::string::npos) << line;
  const std::size_t before = mmapped_blocks();
  void* p = std::malloc(64u << 20);  // above glibc's largest dynamic threshold (32 MiB)
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(mmapped_blocks(), before + 1);
  std::free(p);
}

}  // namespace
