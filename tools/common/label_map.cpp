#include "tools/common/label_map.h"

#include <fstream>

#include "tools/common/errors.h"

namespace vc::app {

std::vector<std::string> read_label_map(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot open label map '" + path + "' (MODEL.label_map)");
  std::vector<std::string> names;
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    if (line.empty()) {
      // A trailing empty line at EOF is fine; an empty line in the middle would shift classes.
      std::string rest;
      bool more = false;
      while (std::getline(in, rest)) {
        if (rest.find_first_not_of(" \t\r") != std::string::npos) more = true;
      }
      if (more) throw IoError(path + ":" + std::to_string(line_no) + ": empty class name");
      break;
    }
    names.push_back(line);
  }
  if (names.empty()) throw IoError("label map '" + path + "' has no class names");
  return names;
}

std::string class_name(const std::vector<std::string>& names, int64_t index) {
  if (index >= 0 && static_cast<std::size_t>(index) < names.size()) return names[index];
  return std::to_string(index);
}

}  // namespace vc::app
