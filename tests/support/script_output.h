// Runs a Python fixture / reference script once per build tree and script version, for every
// test process that needs its files (CTest runs each test case in its own process).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace vc::testing {

/// Runs `/usr/bin/python3 tests/<folder>/<script> OUT_DIR` unless this version of the script
/// (its modification time) already did, and returns OUT_DIR
/// (VC_BINARY_DIR/tests/<folder>/<script>-<stamp>), or "" when the script failed (its output is in
/// the test log). The script writes into a private temporary folder that is renamed into place,
/// so concurrent test processes never see a half-written OUT_DIR.
inline std::string cached_script_output(const std::string& folder, const std::string& script) {
  namespace fs = std::filesystem;
  const fs::path src = fs::path(VC_SOURCE_DIR) / "tests" / folder / script;
  const auto stamp = fs::last_write_time(src).time_since_epoch().count();
  const fs::path out =
      fs::path(VC_BINARY_DIR) / "tests" / folder / (script + "-" + std::to_string(stamp));
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
}

}  // namespace vc::testing
