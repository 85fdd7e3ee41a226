#include "metrics/meter.h"

#include <cstdio>
#include <stdexcept>

namespace vc::metrics {

double Meter::value(const std::string& name) const {
  for (const auto& [k, v] : values())
    if (k == name) return v;
  throw std::out_of_range("metric '" + name + "' is not computed by this meter");
}

std::string Meter::summary() const {
  std::string out;
  char buf[64];
  for (const auto& [k, v] : values()) {
    std::snprintf(buf, sizeof buf, k == "loss" ? "%.6f" : "%.2f", v);
    out += (out.empty() ? "" : " ") + k + " " + buf;
  }
  return out;
}

}  // namespace vc::metrics
