// The Attention Cluster row (spec §6.1): the network of models/attention_cluster on the
// YouTube-8M feature reader with seg_num frames sampled per video, sigmoid cross-entropy, the
// YouTube-8M meter, Adam at a constant LR without weight decay.
#include "models/attention_cluster/attention_cluster.h"
#include "metrics/youtube8m.h"
#include "tools/common/errors.h"
#include "tools/common/readers.h"
#include "tools/common/rows/rows.h"

namespace vc::app {
namespace {

const KeyTable& attention_cluster_keys() {
  using S = KeyScope;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // clang-format off
  static const KeyTable table{
      "AttentionCluster",
      "Attention Cluster (spec §6.1): per modality (rgb, audio) a shifting attention unit of cluster_nums attention clusters over the seg_num sampled frames, concatenated -> dropout -> fc 1024 tanh -> fc 4096 tanh -> logistic fc. Changes the defaults of the original's configs/attention_cluster.txt (seg_num 100, dequantized features, Adam 1e-3 constant, no weight decay). Weights: the original's released `attention_cluster_youtube8m` (Paddle names), see docs/models/attention_cluster.md.",
      {
          {"cluster_nums", S::kModel, std::vector<int64_t>{32, 32}, 1, 4096, {}, "attention clusters of the rgb and the audio unit", {}},
          {"feature_dims", S::kModel, std::vector<int64_t>{1024, 128}, 1, 1e6, {}, "feature widths of rgb and audio (YouTube-8M: [1024, 128]; the reader yields these)", {}},
          {"drop_rate", S::kModel, 0.5, 0, 0.999, {}, "dropout probability before fc1", {"dropout"}},
          {"dropout_impl", S::kModel, std::string("downgrade_in_infer"), -kInf, kInf, {"downgrade_in_infer", "upscale_in_train"}, "dropout scaling: `downgrade_in_infer` = Fluid's (the original: no scaling in training, x(1-p) at inference); `upscale_in_train` = x/(1-p) in training, identity at inference", {}},
      },
      {
          {"MODEL.num_classes", int64_t{3862}},
          {"MODEL.seg_num", int64_t{100}},
          {"MODEL.dequantize", true},
          {"TRAIN.epoch", int64_t{5}},
          {"TRAIN.batch_size", int64_t{2048}},
          {"VALID.batch_size", int64_t{2048}},
          {"TEST.batch_size", int64_t{256}},
          {"INFER.batch_size", int64_t{1}},
          {"TRAIN.optimizer", std::string("adam")},
          {"TRAIN.learning_rate", 0.001},
          {"TRAIN.lr_policy", std::string("constant")},
          {"TRAIN.l2_weight_decay", 0.0},
      },
      [](const Config& cfg, const std::string& where) {
        if (cfg.model.ints("cluster_nums").size() != 2) {
          throw ConfigError(where + ": MODEL.cluster_nums must list 2 values (rgb, audio), got " +
                            value_text(cfg.model.ints("cluster_nums")));
        }
        if (cfg.model.ints("feature_dims").size() != 2) {
          throw ConfigError(where + ": MODEL.feature_dims must list 2 values (rgb, audio), got " +
                            value_text(cfg.model.ints("feature_dims")));
        }
        if (cfg.model.i("seg_num") <= 0) {
          throw ConfigError(where + ": MODEL.seg_num must be > 0 for AttentionCluster (the "
                            "original samples seg_num = 100 frames per video), got " +
                            std::to_string(cfg.model.i("seg_num")));
        }
      }};
  // clang-format on
  return table;
}

models::VideoModelPtr make_attention_cluster(const Config& cfg, Mode) {
  const auto& clusters = cfg.model.ints("cluster_nums");
  const auto& dims = cfg.model.ints("feature_dims");
  return models::AttentionCluster(
             models::AttentionClusterOptions()
                 .num_classes(cfg.model.i("num_classes"))
                 .rgb_dim(dims.at(0))
                 .audio_dim(dims.at(1))
                 .rgb_clusters(clusters.at(0))
                 .audio_clusters(clusters.at(1))
                 .dropout(cfg.model.f("drop_rate"))
                 .dropout_impl(models::parse_dropout_impl(cfg.model.s("dropout_impl"))))
      .ptr();
}

}  // namespace

NameMap attention_cluster_paddle_map(const Config&) {
  // The original names its parameters explicitly (spec §6.1, §7); only the fc layout differs.
  NameMap map;
  for (const char* satt : {"satt0", "satt1"}) {
    const std::string p = satt;
    for (const char* t : {".conv.weight", ".conv.bias", ".shift_w", ".shift_b"}) {
      map.rename(p + t, p + t);
    }
  }
  for (const char* fc : {"fc1", "fc2", "logistic"}) {
    map.rename(std::string(fc) + ".weights", std::string(fc) + ".weight", /*transpose=*/true);
    map.rename(std::string(fc) + ".bias", std::string(fc) + ".bias");
  }
  map.ignore_paddle_optimizer_state();
  return map;
}

ModelEntry attention_cluster_row() {
  return {"AttentionCluster",
          "Attention Cluster: shifting attention clusters over sampled frame features "
          "(YouTube-8M, multi-label)",
          {&feature_reader_keys(), &attention_cluster_keys()},
          make_attention_cluster,
          make_feature_dataset,
          multi_label_task([](const Config& c) {
            return std::make_unique<metrics::Youtube8mMeter>(c.model.i("num_classes"), 20);
          }),
          nullptr,  // one group, no weight decay (TRAIN.l2_weight_decay 0)
          nullptr,  // no pretrain in the original
          "",
          yt8m_example,
          {{"paddle", attention_cluster_paddle_map}}};
}

}  // namespace vc::app
