// The files tests/tools/write_paddle_weights.py writes, made once per build tree and script
// version under VC_BINARY_DIR/tests/tools/ (CTest runs each test case in its own process).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

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
  namespace fs = std::filesystem;
  static const std::string dir = [] {
    const fs::path src = fs::path(VC_SOURCE_DIR) / "tests" / "tools" / "write_paddle_weights.py";
    const auto stamp = fs::last_write_time(src).time_since_epoch().count();
    const fs::path out = fs::path(VC_BINARY_DIR) / "tests" / "tools" /
                         ("write_paddle_weights.py-" + std::to_string(stamp));
    if (fs::exists(out / "ok")) return out.string();
    const fs::path tmp = out.string() + ".tmp" + std::to_string(::getpid());
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    const std::string cmd = "/usr/bin/python3 " + src.string() + " " + tmp.string();
    if (std::system(cmd.c_str()) != 0) {
      fs::remove_all(tmp);
      return std::string();
    }
    std::ofstream(tmp / "ok") << "ok\n";
    std::error_code ec;
    fs::rename(tmp, out, ec);  // another process may have won the race: use its copy
    if (ec) fs::remove_all(tmp);
    return out.string();
  }();
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
