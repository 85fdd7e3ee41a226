// Class-name files: one name per line, line i = class i (e.g.
// ../shared/data/labels/kinetics400.txt).
#pragma once

#include <string>
#include <vector>

namespace vc::app {

/// Reads the names (CR and trailing spaces stripped; blank lines are an error naming the line).
std::vector<std::string> read_label_map(const std::string& path);
/// names[i] when available, else the index as text.
std::string class_name(const std::vector<std::string>& names, int64_t index);

}  // namespace vc::app
