// libFuzzer target: bytes -> a temporary list file -> parse_file_list (labels required and
// optional, with and without a class bound). Checks the parser's own invariants: it never throws
// for an existing regular file, every entry has a 1-based line number within the file, a label in
// range, a non-empty path without NUL, and every skip message names the list and line.
// Build and run: see tests/fuzz/README.md.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "datareader/file_list.h"

namespace {

const std::string& list_path() {
  static const std::string p = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = (tmp && *tmp) ? tmp : "/tmp";
    return dir + "/vc_fuzz_file_list_" + std::to_string(::getpid()) + "/sub/x.list";
  }();
  return p;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_file_list: invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = list_path();
  static bool made = [&] {
    const std::string dir = path.substr(0, path.rfind('/'));
    return std::system(("mkdir -p '" + dir + "'").c_str()) == 0;
  }();
  (void)made;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  std::size_t lines = 1;
  for (size_t i = 0; i < size; ++i) lines += data[i] == '\n';
  for (bool require_label : {true, false}) {
    for (int64_t num_classes : {int64_t{0}, int64_t{400}}) {
      vc::data::ListParseResult r;
      try {
        r = vc::data::parse_file_list(path, require_label, num_classes);
      } catch (const vc::data::DataError& e) {
        std::fprintf(stderr, "unexpected DataError: %s\n", e.what());
        std::abort();
      }
      check(r.skipped.size() == r.skipped_reasons.size(), "skipped/skipped_reasons sizes");
      check(r.entries.size() + r.skipped.size() <= lines, "more results than lines");
      std::size_t prev = 0;
      for (const auto& e : r.entries) {
        check(e.line_no >= 1 && e.line_no <= lines, "line_no in range");
        check(e.line_no > prev, "entries in line order, one per line");
        prev = e.line_no;
        check(!e.path.empty(), "non-empty path");
        check(e.path.find('\0') == std::string::npos, "no NUL in path");
        check(e.label >= -1, "label >= -1");
        if (require_label) check(e.label >= 0, "label present when required");
        if (num_classes > 0) check(e.label < num_classes, "label < num_classes");
      }
      for (const auto& m : r.skipped) {
        check(m.rfind(path + ":", 0) == 0, "skip message starts with '<list>:'");
        check(m.size() < 4096, "skip message bounded");
      }
    }
  }
  return 0;
}
