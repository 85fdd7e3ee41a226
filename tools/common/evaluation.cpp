#include "tools/common/evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>

#include "metrics/classification.h"
#include "tools/common/distributed.h"
#include "tools/common/logging.h"

namespace vc::app {

ViewOptions view_options(const SectionConfig& s) {
  ViewOptions o;
  o.max_rows = s.i("batch_size");
  o.sum = s.s("view_scores") == "sum";
  return o;
}

std::string views_summary(const data::ViewInfo& info, const Task& task, const ViewOptions& opts) {
  if (info.views == 1) return "1 view per sample";
  return fmt::format("views {}, scores {} of {}",
                     info.layout.empty() ? std::to_string(info.views) : info.layout,
                     opts.sum ? "sum" : "mean", task.score_name);
}

std::string views_done(const std::string& summary, const data::ViewInfo& info,
                       const std::vector<EvalRow>& rows, const Task& task,
                       const ViewOptions& view_opts, const std::string& tag) {
  if (rows.empty() || rows.front().views == info.views) return summary;
  log_warn(
      fmt::format("[{}] the dataset's view_info() says {} view(s) per sample, its samples "
                  "carried {}",
                  tag, info.views, rows.front().views));
  return views_summary(data::ViewInfo{rows.front().views, ""}, task, view_opts);
}

ViewScores aggregate_views(const Task& task, const torch::Tensor& logits, int64_t views, bool sum) {
  if (views < 1 || logits.dim() != 2 || logits.size(0) % views != 0) {
    throw std::invalid_argument("aggregate_views: logits " + c10::str(logits.sizes()) +
                                " are not [N*V, C] for V = " + std::to_string(views));
  }
  if (views == 1) return ViewScores{task.scores(logits), logits};
  if (!task.logits_of_scores) {
    throw std::invalid_argument("task '" + task.loss_name + "' / '" + task.score_name +
                                "' has no logits_of_scores: it cannot evaluate " +
                                std::to_string(views) + "-view samples");
  }
  const int64_t n = logits.size(0) / views, c = logits.size(1);
  const torch::Tensor per_view = task.scores(logits).view({n, views, c});  // [N, V, C]
  const torch::Tensor mean = per_view.mean(1);                             // [N, C]
  return ViewScores{sum ? per_view.sum(1) : mean, task.logits_of_scores(mean)};
}

namespace {

// The model on every row of `input` ([R, ...] per input), at most `max_rows` rows per forward
// pass (0 = all at once); logits [R, C] on the CPU.
torch::Tensor forward_rows(models::VideoModelImpl& model, const data::Batch& batch,
                           const torch::Device& device, int64_t max_rows) {
  const int64_t rows = batch.size() * batch.views;
  if (max_rows <= 0 || max_rows >= rows) {
    return model.forward(models::ModelInput(batch.inputs).to(device)).to(torch::kCPU);
  }
  std::vector<torch::Tensor> parts;
  for (int64_t r = 0; r < rows; r += max_rows) {
    const int64_t len = std::min(max_rows, rows - r);
    std::map<std::string, torch::Tensor> chunk;
    for (const auto& [name, t] : batch.inputs) {
      if (t.dim() < 1 || t.size(0) != rows) {
        throw std::invalid_argument("evaluate: input '" + name + "' has shape " +
                                    c10::str(t.sizes()) + ", expected " + std::to_string(rows) +
                                    " rows (" + std::to_string(batch.size()) + " samples x " +
                                    std::to_string(batch.views) + " views)");
      }
      chunk[name] = t.narrow(0, r, len);  // [len, ...]
    }
    parts.push_back(model.forward(models::ModelInput(chunk).to(device)).to(torch::kCPU));
  }
  return torch::cat(parts, 0);  // [R, C]
}

}  // namespace

namespace {

// One batch's per-sample results, what the meter and the rows read.
struct Scored {
  torch::Tensor logits;  // [N, C]
  torch::Tensor scores;  // [N, C]; undefined = task.scores(logits) (single view)
  torch::Tensor target;  // int64 [N] or float [N, C]
  data::TargetKind target_kind = data::TargetKind::kClass;
  std::vector<bool> labelled;
  std::vector<std::string> ids, sources;
  std::vector<int64_t> line_nos;
  int64_t views = 1;
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
};

// Updates the meter (when every sample is labelled) and appends the rows of one batch.
void record(const Scored& b, const Task& task, metrics::Meter* meter, std::vector<EvalRow>* rows,
            int64_t topk, std::size_t it, std::size_t nb, int64_t log_interval,
            const std::string& tag) {
  const bool all_labelled =
      std::all_of(b.labelled.begin(), b.labelled.end(), [](bool x) { return x; });
  if (meter && all_labelled) {
    const double loss = task.loss(b.logits, b.target).item<double>();
    meter->update(b.logits, b.target, loss);
    if (it % static_cast<std::size_t>(log_interval) == 0) {
      auto bm = meter->clone_empty();
      bm->update(b.logits, b.target, loss);
      log_info(fmt::format("[{}] batch {}/{} {}", tag, it + 1, nb, bm->summary()));
    }
  }
  if (!rows) return;
  const torch::Tensor scores = b.scores.defined() ? b.scores : task.scores(b.logits);  // [N, C]
  const torch::Tensor top = metrics::ranked_classes(scores, topk);                     // [N, k]
  const torch::Tensor top_scores = scores.gather(1, top).contiguous();                 // [N, k]
  const auto top_a = top.accessor<int64_t, 2>();
  const auto score_a = top_scores.accessor<float, 2>();
  const torch::Tensor target = b.target.contiguous();
  for (int64_t i = 0; i < b.size(); ++i) {
    const auto u = static_cast<std::size_t>(i);
    EvalRow r;
    r.id = b.ids[u];
    r.source = b.sources[u];
    r.line_no = static_cast<std::size_t>(b.line_nos[u]);
    r.labelled = b.labelled[u];
    r.views = b.views;
    if (r.labelled) {
      if (b.target_kind == data::TargetKind::kClass) {
        r.labels.push_back(target.accessor<int64_t, 1>()[i]);
      } else {
        const auto t = target.accessor<float, 2>()[i];
        for (int64_t c = 0; c < t.size(0); ++c)
          if (t[c] > 0.5f) r.labels.push_back(c);
      }
    }
    for (int64_t j = 0; j < top.size(1); ++j) {
      r.classes.push_back(top_a[i][j]);
      r.scores.push_back(score_a[i][j]);
    }
    rows->push_back(std::move(r));
  }
}

// Data-parallel evaluation: a worker's results of its block, as bytes for dist::gather_bytes.
std::string serialize(const std::vector<Scored>& parts) {
  std::vector<torch::Tensor> logits, scores, targets;
  c10::List<std::string> ids, sources;
  std::vector<int64_t> labelled, line_nos, views;
  int64_t kind = 0;
  for (const Scored& p : parts) {
    logits.push_back(p.logits);
    if (p.scores.defined()) scores.push_back(p.scores);
    targets.push_back(p.target);
    kind = static_cast<int64_t>(p.target_kind);
    for (int64_t i = 0; i < p.size(); ++i) {
      const auto u = static_cast<std::size_t>(i);
      ids.push_back(p.ids[u]);
      sources.push_back(p.sources[u]);
      labelled.push_back(p.labelled[u] ? 1 : 0);
      line_nos.push_back(p.line_nos[u]);
      views.push_back(p.views);
    }
  }
  if (scores.size() != parts.size()) scores.clear();  // mixed: recomputed from the logits
  const auto cat = [](const std::vector<torch::Tensor>& v) {
    return v.empty() ? torch::empty({0}) : torch::cat(v, 0);
  };
  // A list (not a tuple: GCC's -Warray-bounds misreads a tuple's 3 inline elements).
  c10::impl::GenericList value(c10::AnyType::get());
  value.push_back(cat(logits));
  value.push_back(cat(scores));
  value.push_back(cat(targets));
  value.push_back(kind);
  value.push_back(ids);
  value.push_back(sources);
  value.push_back(torch::tensor(labelled, torch::kInt64));
  value.push_back(torch::tensor(line_nos, torch::kInt64));
  value.push_back(torch::tensor(views, torch::kInt64));
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(value));
  return std::string(bytes.begin(), bytes.end());
}

// The samples of one worker's bytes, appended to `all` (a single Scored of every sample).
void deserialize_into(const std::string& bytes, std::vector<Scored>* all) {
  if (bytes.empty()) return;
  const c10::IValue v = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  const c10::List<c10::IValue> list = v.toList();
  std::vector<c10::IValue> e;
  for (std::size_t i = 0; i < list.size(); ++i) e.push_back(list.get(i));
  if (e.size() != 9) throw std::runtime_error("evaluate: a worker's results are malformed");
  const torch::Tensor labelled = e[6].toTensor(), line_nos = e[7].toTensor(),
                      views = e[8].toTensor();
  const int64_t n = labelled.numel();
  if (n == 0) return;
  Scored s;
  s.logits = e[0].toTensor();
  s.scores = e[1].toTensor();
  if (s.scores.numel() == 0) s.scores = torch::Tensor();  // recomputed from the logits
  s.target = e[2].toTensor();
  s.target_kind = static_cast<data::TargetKind>(e[3].toInt());
  const c10::List<c10::IValue> ids = e[4].toList(), sources = e[5].toList();
  const auto lab = labelled.accessor<int64_t, 1>();
  const auto line = line_nos.accessor<int64_t, 1>();
  for (int64_t i = 0; i < n; ++i) {
    s.ids.push_back(ids.get(static_cast<std::size_t>(i)).toStringRef());
    s.sources.push_back(sources.get(static_cast<std::size_t>(i)).toStringRef());
    s.labelled.push_back(lab[i] != 0);
    s.line_nos.push_back(line[i]);
  }
  s.views = views[0].item<int64_t>();
  all->push_back(std::move(s));
}

// Samples [a, b) of the concatenation of `parts` (in order) as one batch.
Scored slice(const std::vector<Scored>& parts, int64_t a, int64_t b) {
  Scored out;
  std::vector<torch::Tensor> logits, scores, targets;
  bool all_scores = true;
  int64_t base = 0;
  for (const Scored& p : parts) {
    const int64_t lo = std::max(a, base), hi = std::min(b, base + p.size());
    if (lo < hi) {
      logits.push_back(p.logits.narrow(0, lo - base, hi - lo));
      targets.push_back(p.target.narrow(0, lo - base, hi - lo));
      if (p.scores.defined()) {
        scores.push_back(p.scores.narrow(0, lo - base, hi - lo));
      } else {
        all_scores = false;
      }
      for (int64_t i = lo - base; i < hi - base; ++i) {
        const auto u = static_cast<std::size_t>(i);
        out.ids.push_back(p.ids[u]);
        out.sources.push_back(p.sources[u]);
        out.labelled.push_back(p.labelled[u]);
        out.line_nos.push_back(p.line_nos[u]);
      }
      out.target_kind = p.target_kind;
      out.views = p.views;
    }
    base += p.size();
  }
  out.logits = torch::cat(logits, 0);
  out.target = torch::cat(targets, 0);
  if (all_scores) out.scores = torch::cat(scores, 0);
  return out;
}

}  // namespace

void evaluate(models::VideoModelImpl& model, data::Loader& loader, const torch::Device& device,
              const Task& task, metrics::Meter* meter, std::vector<EvalRow>* rows, int64_t topk,
              int64_t log_interval, const std::string& tag, const ViewOptions& views) {
  using Clock = std::chrono::steady_clock;
  torch::NoGradGuard no_grad;
  model.eval();
  loader.start_epoch(0);
  // Data-parallel: this worker's block of the list; the results are gathered to rank 0 below.
  const data::Shard& shard = loader.options().shard;
  const bool gather = shard.count > 1;
  std::vector<Scored> mine;
  const std::size_t nb = loader.batches_per_epoch();
  std::size_t it = 0;
  const auto t0 = Clock::now();
  while (auto batch = loader.next()) {
    Scored b;
    if (batch->views == 1) {
      const models::ModelInput input = models::ModelInput(batch->inputs).to(device);
      b.logits = model.forward(input).to(torch::kCPU);  // [N, C]
    } else {
      const torch::Tensor view_logits =
          forward_rows(model, *batch, device, views.max_rows);  // [N*V, C]
      ViewScores agg = aggregate_views(task, view_logits, batch->views, views.sum);
      b.logits = agg.logits;  // [N, C]
      b.scores = agg.scores;  // [N, C]
    }
    b.target = batch->target;
    b.target_kind = batch->target_kind;
    b.labelled = batch->labelled;
    b.ids = batch->ids;
    b.sources = batch->sources;
    for (std::size_t l : batch->line_nos) b.line_nos.push_back(static_cast<int64_t>(l));
    b.views = batch->views;
    if (gather) {
      mine.push_back(std::move(b));
    } else {
      record(b, task, meter, rows, topk, it, nb, log_interval, tag);
    }
    ++it;
    progress(
        fmt::format("[{}] {}/{} batches, {}", tag, it, nb,
                    format_duration(std::chrono::duration<double>(Clock::now() - t0).count())));
  }
  progress_done();
  if (!gather) return;
  // Rank 0 regroups the workers' samples (blocks in rank order = the list's order, skipped
  // samples absent as in a single process) into the batches a single process would have made,
  // so the meter sees the same batches and the metrics are those of one process.
  std::vector<Scored> all;
  for (const std::string& part : dist::gather_bytes(serialize(mine), "the " + tag + " results")) {
    deserialize_into(part, &all);
  }
  int64_t total = 0;
  for (const Scored& s : all) total += s.size();
  const int64_t b = std::max<int64_t>(1, shard.global_batch);
  const auto nb_all = static_cast<std::size_t>((total + b - 1) / b);
  std::size_t k = 0;
  for (int64_t a = 0; a < total; a += b, ++k) {
    record(slice(all, a, std::min(total, a + b)), task, meter, rows, topk, k, nb_all, log_interval,
           tag);
  }
}

}  // namespace vc::app
