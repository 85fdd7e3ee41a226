// Helpers for the models tests: temp dirs and running the Python reference scripts.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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

/// Runs tests/models/<script> OUT_DIR once per build tree and script version: the outputs are
/// kept under VC_BINARY_DIR/tests/models/ (CTest runs every test case in its own process, so
/// expensive reference files are shared this way). Returns OUT_DIR, or "" when the script fails.
inline std::string cached_script_output(const std::string& script) {
  namespace fs = std::filesystem;
  const fs::path src = fs::path(VC_SOURCE_DIR) / "tests" / "models" / script;
  const auto stamp = fs::last_write_time(src).time_since_epoch().count();
  const fs::path dir =
      fs::path(VC_BINARY_DIR) / "tests" / "models" / (script + "-" + std::to_string(stamp));
  if (fs::exists(dir / "ok")) return dir.string();
  const fs::path tmp = dir.string() + ".tmp" + std::to_string(::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  if (run_script(script, tmp.string()) != 0) {
    fs::remove_all(tmp);
    return "";
  }
  std::ofstream(tmp / "ok") << "ok\n";
  std::error_code ec;
  fs::rename(tmp, dir, ec);  // another process may have won the race: use its copy
  if (ec) fs::remove_all(tmp);
  return dir.string();
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
