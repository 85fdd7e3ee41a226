#include "tools/common/outputs.h"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tools/common/checkpoint.h"
#include "tools/common/label_map.h"

namespace vc::app {

namespace {
// Invalid UTF-8 in ids (Linux paths are bytes) is replaced rather than thrown on.
// A float score with 6 significant digits (what a float holds reliably), printed shortest.
double six_digits(float v) { return std::stod(fmt::format("{:.6g}", v)); }

template <class Json>
std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace

void write_results_jsonl(const std::string& path, const std::vector<EvalRow>& rows,
                         bool multi_label, const std::vector<std::string>& names,
                         const std::vector<std::string>& failures) {
  std::string out;
  for (const auto& r : rows) {
    nlohmann::ordered_json j;
    j["id"] = r.id;
    j["line"] = r.line_no;
    if (multi_label) {
      j["labels"] = r.labelled ? nlohmann::ordered_json(r.labels) : nlohmann::ordered_json();
    } else {
      j["label"] = r.labelled && !r.labels.empty() ? nlohmann::ordered_json(r.labels.front())
                                                   : nlohmann::ordered_json();
    }
    nlohmann::ordered_json top = nlohmann::ordered_json::array();
    for (std::size_t k = 0; k < r.classes.size(); ++k) {
      nlohmann::ordered_json c;
      c["class"] = r.classes[k];
      c["name"] = class_name(names, r.classes[k]);
      c["score"] = six_digits(r.scores[k]);
      top.push_back(std::move(c));
    }
    j["topk"] = std::move(top);
    if (r.views > 1) j["views"] = r.views;
    out += dump(j) + "\n";
  }
  for (const auto& f : failures) {
    nlohmann::ordered_json e;
    e["error"] = f;
    out += dump(e) + "\n";
  }
  write_file_atomic(path, out);
}

void write_metrics_json(const std::string& path, const std::string& model_id,
                        const std::string& weights, const metrics::Meter& meter,
                        const std::string& views) {
  nlohmann::ordered_json j;
  j["model"] = model_id;
  j["weights"] = weights;
  j["samples"] = meter.count();
  for (const auto& [k, v] : meter.values()) j[k] = v;
  j["primary_metric"] = meter.primary();
  if (!views.empty()) j["views"] = views;
  write_file_atomic(path, j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

std::string results_table(const std::vector<EvalRow>& rows, const std::vector<std::string>& names) {
  std::string table = fmt::format("{:<40} {:<6} {}\n", "video", "line", "top predictions (score)");
  for (const auto& r : rows) {
    std::string id = std::filesystem::path(r.id).filename().string();
    if (id.empty()) id = r.id;
    if (id.size() > 40) id = id.substr(0, 37) + "...";
    std::string preds;
    for (std::size_t j = 0; j < std::min<std::size_t>(3, r.classes.size()); ++j) {
      preds +=
          fmt::format("{}{} ({:.3f})", j ? ", " : "", class_name(names, r.classes[j]), r.scores[j]);
    }
    table += fmt::format("{:<40} {:<6} {}\n", id, r.line_no, preds);
  }
  return table;
}

}  // namespace vc::app
