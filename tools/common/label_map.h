// Class-name files ("label maps"): names[i] is the name of class i.
//
// Accepted formats, detected from the content in this order (a UTF-8 byte-order mark is skipped):
//  1. JSON, when the first non-blank character is '[' or '{':
//       ["abseiling", "air drumming", ...]          a list of names, element i = class i
//       {"abseiling": 0, "air drumming": 1, ...}    name -> index (every value an integer)
//       {"0": "abseiling", "1": "air drumming"}     index -> name (every key a decimal integer)
//  2. CSV (RFC 4180: quoted fields may hold commas, line breaks and doubled quotes ""), when the
//     file name ends in ".csv" or its first line has a comma and a column named "name"
//     (case-insensitive), e.g. the YouTube-8M vocabulary.csv
//     (Index,TrainVideoCount,KnowledgeGraphId,Name,...). Names come from the "name" column; the
//     index from the "index" (or "id") column when there is one, else from the row order. Every
//     row must have as many fields as the header. An empty name falls back to the row's
//     "KnowledgeGraphId" when that column exists (56 YouTube-8M classes have no name), else it
//     is an error.
//  3. Text lines (trailing blank lines are ignored, a blank line before the last name is an error):
//       `<index> <name>` when EVERY line is a decimal integer, whitespace, then a name;
//       else `<name> <index>` when EVERY line is a name, whitespace, then a decimal integer;
//       else one name per line, line i = class i (e.g. ../shared/data/labels/kinetics400.txt).
//     Names may contain spaces; surrounding whitespace and CR are stripped. The rule is
//     file-wide, so one plain line makes the whole file plain; but a plain list whose every name
//     happens to start (or end) with a number is read as indexed: write such lists as JSON.
// Indices must be 0..N-1, each exactly once (UCF-101's 1-based classInd.txt is rejected with a
// hint). Every error is an IoError naming the file and line (JSON: the element or key), e.g.
// duplicate index, missing index, blank line, empty name, bad CSV quote, wrong field count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vc::app {

struct LabelMap {
  std::vector<std::string> names;  ///< names[i] = class i
  /// The detected format: "names", "index name", "name index", "json list",
  /// "json name->index", "json index->name" or "csv".
  std::string format;
};

/// Reads and parses a label map file (formats above). Throws IoError.
LabelMap load_label_map(const std::string& path);
/// Parses label-map text; `source` is the file name used for format detection (".csv") and in
/// messages.
LabelMap parse_label_map(const std::string& text, const std::string& source);
/// load_label_map(path).names.
std::vector<std::string> read_label_map(const std::string& path);
/// names[i] when available, else the index as text.
std::string class_name(const std::vector<std::string>& names, int64_t index);

}  // namespace vc::app
