#include "datareader/file_list.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace vc::data {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Splits on runs of whitespace.
std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    std::size_t j = i;
    while (j < s.size() && !is_space(s[j])) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// Strict base-10 integer parse of the whole token.
bool parse_int64(const std::string& tok, int64_t* out) {
  if (tok.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(tok.c_str(), &end, 10);
  if (errno != 0 || end != tok.c_str() + tok.size()) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

}  // namespace

std::string resolve_relative_to(const std::string& list_path, const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p(path);
  if (p.is_absolute()) return p.lexically_normal().string();
  fs::path base = fs::path(list_path).parent_path();
  if (base.empty()) return p.lexically_normal().string();
  return (base / p).lexically_normal().string();
}

ListParseResult parse_file_list(const std::string& list_path, bool require_label,
                                int64_t num_classes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(list_path, ec)) {
    throw DataError("list file not found: " + list_path);
  }
  if (fs::is_directory(list_path, ec)) {
    throw DataError("list file is a directory, not a file: " + list_path);
  }
  std::ifstream in(list_path, std::ios::binary);
  if (!in) throw DataError("cannot open list file for reading: " + list_path);

  ListParseResult result;
  std::string raw;
  std::size_t line_no = 0;
  auto skip = [&](const std::string& why) {
    result.skipped.push_back(list_path + ":" + std::to_string(line_no) + ": " + why);
  };
  while (std::getline(in, raw)) {
    ++line_no;
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> cols = split_ws(line);
    ListEntry e;
    e.line_no = line_no;
    e.path = resolve_relative_to(list_path, cols[0]);
    if (cols.size() > 2) {
      skip("expected '<path> <label>', got " + std::to_string(cols.size()) + " columns: '" +
           line + "'");
      continue;
    }
    if (cols.size() == 1) {
      if (require_label) {
        skip("missing label after path '" + cols[0] + "'");
        continue;
      }
    } else {
      int64_t label = 0;
      if (!parse_int64(cols[1], &label)) {
        skip("label '" + cols[1] + "' is not an integer");
        continue;
      }
      if (label < 0) {
        skip("label " + cols[1] + " is negative");
        continue;
      }
      if (num_classes > 0 && label >= num_classes) {
        skip("label " + cols[1] + " out of range [0, " + std::to_string(num_classes) + ")");
        continue;
      }
      e.label = label;
    }
    result.entries.push_back(std::move(e));
  }
  if (in.bad()) throw DataError("error while reading list file: " + list_path);
  return result;
}

}  // namespace vc::data
