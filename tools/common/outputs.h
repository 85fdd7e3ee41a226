// What test and infer write: JSON lines of per-sample results, the metrics JSON, the meter's
// reports and a readable table. Every JSON is written with nlohmann::json.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "metrics/meter.h"
#include "tools/common/evaluation.h"

namespace vc::app {

/// One JSON object per line: {"id", "line", "label" (single-label; null when unlabelled) or
/// "labels" (multi-label), "topk": [{"class", "name", "score"}], and "views": V when the scores
/// combine V > 1 views of the video}; then one {"error": msg} per failure. Written atomically.
void write_results_jsonl(const std::string& path, const std::vector<EvalRow>& rows,
                         bool multi_label, const std::vector<std::string>& class_names,
                         const std::vector<std::string>& failures = {});

/// {"model", "weights", "samples", <each meter value>, "primary_metric"[, "views"]}; "views" is
/// `views` (views_summary of evaluation.h) when not empty.
void write_metrics_json(const std::string& path, const std::string& model_id,
                        const std::string& weights, const metrics::Meter& meter,
                        const std::string& views = "");

/// A table: sample, list line, the top-3 classes with scores.
std::string results_table(const std::vector<EvalRow>& rows,
                          const std::vector<std::string>& class_names);

}  // namespace vc::app
