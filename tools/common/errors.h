// Error categories of the application layer. main() is the one place that catches them.
#pragma once

#include <stdexcept>
#include <string>

namespace vc::app {

/// A config file, key, value or flag is wrong. The message names file, key path and value.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file cannot be read or written (config, list, weights, checkpoint, output).
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace vc::app
