// List files of the Kinetics-style readers: one "<path> [<label>]" per line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace vc::data {

// Every data-layer failure (bad list, undecodable video, bad option) is a DataError whose
// message names the file (and list line / value where there is one).
class DataError : public std::runtime_error {
 public:
  using runtime_error::runtime_error;
};

struct ListEntry {
  std::string path;      // resolved: relative paths are relative to the list file's folder
  int64_t label = -1;    // -1 when absent
  std::size_t line_no = 0;  // 1-based line in the list file
};

struct ListParseResult {
  std::vector<ListEntry> entries;
  std::vector<std::string> skipped;  // one message per skipped line: "<list>:<line>: <why>"
};

// Parses "<path> <label>" lines. The label is optional when !require_label. Blank lines, lines
// starting with '#', CRLF line ends and leading/trailing whitespace are tolerated. A bad label
// (missing when required, non-integer, < 0, >= num_classes when num_classes > 0) or extra
// columns skip the line with a message. A missing/unreadable list file throws DataError.
ListParseResult parse_file_list(const std::string& list_path, bool require_label,
                                int64_t num_classes);

// Resolves `path` against the folder of `list_path` unless it is absolute.
std::string resolve_relative_to(const std::string& list_path, const std::string& path);

}  // namespace vc::data
