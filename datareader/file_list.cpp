#include "datareader/file_list.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace vc::data {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::size_t count_tokens(const std::string& s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!is_space(s[i]) && (i == 0 || is_space(s[i - 1]))) ++n;
  }
  return n;
}

// Strict base-10 integer parse of the whole token (an optional sign, then digits only).
bool parse_int64(const std::string& tok, int64_t* out) {
  if (tok.empty()) return false;
  std::size_t i = (tok[0] == '+' || tok[0] == '-') ? 1 : 0;
  if (i == tok.size()) return false;
  for (std::size_t k = i; k < tok.size(); ++k) {
    if (tok[k] < '0' || tok[k] > '9') return false;
  }
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(tok.c_str(), &end, 10);
  if (errno != 0 || end != tok.c_str() + tok.size()) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

// For messages: non-printable bytes as \xNN, at most `max` input bytes then "...".
std::string printable(const std::string& s, std::size_t max = 200) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  const std::size_t n = std::min(s.size(), max);
  out.reserve(n + 8);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

// Reads one '\n'-terminated line (the '\n' is dropped) keeping at most `max` bytes; the rest of
// an over-long line is consumed and *too_long set. Returns false at end of input with nothing
// read.
bool read_line(std::istream& in, std::string* line, std::size_t max, bool* too_long) {
  line->clear();
  *too_long = false;
  std::streambuf* sb = in.rdbuf();
  bool any = false;
  for (;;) {
    const int c = sb->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      return any;
    }
    any = true;
    if (c == '\n') return true;
    if (line->size() < max) {
      line->push_back(static_cast<char>(c));
    } else {
      *too_long = true;
    }
  }
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
  auto skip = [&](const std::string& reason, const std::string& why) {
    result.skipped.push_back(list_path + ":" + std::to_string(line_no) + ": " + why);
    result.skipped_reasons.push_back(reason);
  };
  bool too_long = false;
  while (read_line(in, &raw, kMaxListLineBytes, &too_long)) {
    ++line_no;
    if (line_no == 1 && raw.compare(0, 3, "\xEF\xBB\xBF") == 0) raw.erase(0, 3);  // UTF-8 BOM
    if (too_long) {
      skip("line too long", "line longer than " + std::to_string(kMaxListLineBytes) + " bytes: '" +
                                printable(raw, 80) + "'");
      continue;
    }
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    if (line.find('\0') != std::string::npos) {
      skip("NUL byte in line", "line contains a NUL byte: '" + printable(line) + "'");
      continue;
    }
    // The last token is the label candidate; everything before it is the path.
    std::size_t tok_begin = line.size();
    while (tok_begin > 0 && !is_space(line[tok_begin - 1])) --tok_begin;
    ListEntry e;
    e.line_no = line_no;
    if (tok_begin == 0) {  // one token: a path without a label
      if (require_label) {
        skip("missing label", "missing label after path '" + printable(line) + "'");
        continue;
      }
      e.path = resolve_relative_to(list_path, line);
      result.entries.push_back(std::move(e));
      continue;
    }
    const std::string tok = line.substr(tok_begin);
    const std::string head = trim(line.substr(0, tok_begin));
    int64_t label = 0;
    if (!parse_int64(tok, &label)) {
      const std::size_t ncols = count_tokens(line);
      if (ncols > 2) {
        skip("too many columns", "expected '<path> <label>', got " + std::to_string(ncols) +
                                     " columns and no integer label at the end: '" +
                                     printable(line) + "'");
      } else {
        skip("label not an integer", "label '" + printable(tok) + "' is not an integer");
      }
      continue;
    }
    if (label < 0) {
      skip("negative label", "label " + tok + " is negative");
      continue;
    }
    if (num_classes > 0 && label >= num_classes) {
      skip("label out of range",
           "label " + tok + " out of range [0, " + std::to_string(num_classes) + ")");
      continue;
    }
    e.path = resolve_relative_to(list_path, head);
    e.label = label;
    result.entries.push_back(std::move(e));
  }
  if (in.bad()) throw DataError("error while reading list file: " + list_path);
  return result;
}

}  // namespace vc::data
