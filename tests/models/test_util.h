// Helpers for the models tests: temp dirs and running the Python reference scripts.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/script_output.h"
#include "tests/support/temp_dir.h"

namespace vc::test {

/// The one TempDir of the tests (tests/support/temp_dir.h).
using TempDir = vc::testing::TempDir;

inline const char* python() { return "/usr/bin/python3"; }

/// True when /usr/bin/python3 imports torch and torchvision (Debian python3-torchvision).
inline bool have_torchvision() {
  static const bool ok =
      std::system("/usr/bin/python3 -c 'import torch, torchvision' >/dev/null 2>&1") == 0;
  return ok;
}

/// Runs tests/models/<script> with `args`; returns the exit status (output goes to the log).
inline int run_script(const std::string& script, const std::string& args) {
  const std::string cmd =
      std::string(python()) + " " + VC_SOURCE_DIR + "/tests/models/" + script + " " + args;
  return std::system(cmd.c_str());
}

/// Runs tests/models/<script> OUT_DIR once per build tree and script version
/// (tests/support/script_output.h). Returns OUT_DIR, or "" when the script fails.
inline std::string cached_script_output(const std::string& script) {
  return vc::testing::cached_script_output("models", script);
}

}  // namespace vc::test

/// Skips the current test (printing why) when the Python reference is unavailable.
#define VC_REQUIRE_TORCHVISION()                                                     \
  do {                                                                               \
    if (!vc::test::have_torchvision()) {                                             \
      GTEST_SKIP() << "skipped: /usr/bin/python3 cannot import torch + torchvision " \
                      "(install python3-torch python3-torchvision)";                 \
    }                                                                                \
  } while (0)
