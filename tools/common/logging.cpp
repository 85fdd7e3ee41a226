#include "tools/common/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

namespace vc::app {
namespace {

std::mutex g_mutex;
bool g_progress_pending = false;
long g_rank = 0;

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
    auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    auto lg = std::make_shared<spdlog::logger>("videocls", sink);
    lg->set_pattern("[%Y-%m-%d %H:%M:%S] [%l] %v");
    lg->flush_on(spdlog::level::info);
    return lg;
  }();
  return l;
}

bool stdout_is_tty() {
  static const bool tty = isatty(fileno(stdout)) != 0;
  return tty;
}

void clear_progress() {
  if (g_progress_pending) {
    std::fputs("\r\033[K", stdout);
    g_progress_pending = false;
  }
}

}  // namespace

void set_log_rank(long rank) { g_rank = rank; }

std::string log_rank_prefix() {
  return g_rank > 0 ? "[rank " + std::to_string(g_rank) + "] " : std::string();
}

void log_to_file(const std::string& path) {
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
  sink->set_pattern("[%Y-%m-%d %H:%M:%S] [%l] %v");
  logger()->sinks().push_back(sink);
}

void log_info(const std::string& msg) {
  if (g_rank > 0) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  clear_progress();
  logger()->info(msg);
}
void log_warn(const std::string& msg) {
  std::lock_guard<std::mutex> lock(g_mutex);
  clear_progress();
  logger()->warn(log_rank_prefix() + msg);
}

void progress(const std::string& text) {
  if (g_rank > 0 || !stdout_is_tty()) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stdout, "\r\033[K%s", text.c_str());
  std::fflush(stdout);
  g_progress_pending = true;
}

void progress_done() {
  std::lock_guard<std::mutex> lock(g_mutex);
  clear_progress();
  std::fflush(stdout);
}

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds != seconds) seconds = 0;
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm%02lds", s / 3600, (s / 60) % 60, s % 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lds", s);
  }
  return buf;
}

}  // namespace vc::app
