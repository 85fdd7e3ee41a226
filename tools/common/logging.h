// Logging for the executables: timestamped lines on stdout (and optionally a log file), plus a
// one-line progress bar when stdout is a terminal.
#pragma once

#include <string>

namespace vc::app {

/// Data-parallel workers: rank > 0 drops log_info and the progress line and prefixes warnings
/// (and main()'s errors, log_rank_prefix) with "[rank N] ". Default 0.
void set_log_rank(long rank);
/// "[rank N] " for rank > 0, else "".
std::string log_rank_prefix();

/// Adds `path` as a second sink (appending). Safe to call once per run.
void log_to_file(const std::string& path);
void log_info(const std::string& msg);
void log_warn(const std::string& msg);

/// Prints `text` over the current terminal line (no-op unless stdout is a TTY).
void progress(const std::string& text);
/// Ends a progress line (prints a newline if one is pending).
void progress_done();

/// "1h02m03s" style.
std::string format_duration(double seconds);

}  // namespace vc::app
