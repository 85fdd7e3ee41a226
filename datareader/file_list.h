// List files of the Kinetics-style readers: one "<path> [<label>]" per line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "datareader/errors.h"  // DataError

namespace vc::data {

struct ListEntry {
  std::string path;         // resolved: relative paths are relative to the list file's folder
  int64_t label = -1;       // -1 when absent
  std::size_t line_no = 0;  // 1-based line in the list file
};

struct ListParseResult {
  std::vector<ListEntry> entries;
  std::vector<std::string> skipped;  // one message per skipped line: "<list>:<line>: <why>"
  // Parallel to `skipped`: a short category per skipped line, usable as a counter key
  // ("missing label", "label not an integer", "negative label", "label out of range",
  // "too many columns", "line too long", "NUL byte in line").
  std::vector<std::string> skipped_reasons;
};

// Longest accepted list line in bytes (longer lines are skipped; PATH_MAX is 4096 on Linux).
inline constexpr std::size_t kMaxListLineBytes = 65536;

// Parses "<path> <label>" lines. The label is optional when !require_label.
//  - Blank lines, lines whose first non-blank character is '#', CRLF line ends, a UTF-8 byte
//    order mark at the start of the file and leading/trailing whitespace are tolerated.
//  - The LAST whitespace-separated token is the label when it parses as a base-10 integer;
//    everything before it (trimmed, inner whitespace kept) is the path, so "my clip.mp4 3" is
//    path "my clip.mp4", label 3. A line with one token is a path without a label. A path with
//    spaces therefore needs a label: "my clip.mp4" alone is skipped (label 'clip.mp4' is not an
//    integer), even when labels are optional.
//  - Skipped with a message "<list>:<line>: <why>" (the run goes on): a missing label when
//    required; a non-integer last token (2 tokens: "label 'x' is not an integer"; more: "expected
//    '<path> <label>'"); a label < 0 or >= num_classes (when num_classes > 0); a line longer than
//    kMaxListLineBytes; a line containing a NUL byte. Non-printable bytes are shown as \xNN and
//    long lines are shortened in messages; paths are taken byte for byte (no UTF-8 check:
//    Linux file names are bytes).
// A missing/unreadable list file throws DataError.
ListParseResult parse_file_list(const std::string& list_path, bool require_label,
                                int64_t num_classes);

// Resolves `path` against the folder of `list_path` unless it is absolute.
std::string resolve_relative_to(const std::string& list_path, const std::string& path);

}  // namespace vc::data
