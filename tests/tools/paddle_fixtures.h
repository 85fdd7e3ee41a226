// The files tests/tools/write_paddle_weights.py writes, made once per build tree and script
// version under VC_BINARY_DIR/tests/tools/ (CTest runs each test case in its own process).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/script_output.h"

namespace vc::testing {

/// True when /usr/bin/python3 imports numpy (Debian python3-numpy).
inline bool have_numpy() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
  return ok;
}

/// True when /usr/bin/python3 imports torch (Debian python3-torch).
inline bool have_python_torch() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
  return ok;
}

/// The writer's OUT_DIR, or "" when it failed (its output is in the test log).
inline std::string paddle_fixtures() {
  static const std::string dir = cached_script_output("tools", "write_paddle_weights.py");
  return dir;
}

}  // namespace vc::testing

/// Skips the test (saying why) without numpy; fails when the writer itself fails.
#define VC_REQUIRE_PADDLE_FIXTURES()                                                          \
  do {                                                                                        \
    if (!vc::testing::have_numpy()) {                                                         \
      GTEST_SKIP() << "skipped: /usr/bin/python3 cannot import numpy (install "               \
                      "python3-numpy) to write the Paddle weight fixtures";                   \
    }                                                                                         \
    ASSERT_FALSE(vc::testing::paddle_fixtures().empty()) << "write_paddle_weights.py failed"; \
  } while (0)
