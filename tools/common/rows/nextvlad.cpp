// The NeXtVLAD row (spec §6.3): the network of models/nextvlad on the YouTube-8M feature
// reader with all frames (padded batches with a mask) fed as raw 0..255 values (the network
// dequantizes and scales by the PCA eigenvalues of MODEL.eigen_file in the graph, as the
// original's June snapshot), sigmoid cross-entropy, the YouTube-8M meter, Adam with the
// original's piecewise decay (x0.8 every lr_boundary_examples / batch_size iterations, up to
// max_iter), L2 only on the classifier.
#include <filesystem>

#include "metrics/youtube8m.h"
#include "models/nextvlad/nextvlad.h"
#include "tools/common/errors.h"
#include "tools/common/readers.h"
#include "tools/common/rows/rows.h"
#include "tools/common/weights/npy.h"

namespace vc::app {
namespace {

const KeyTable& nextvlad_keys() {
  using S = KeyScope;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // clang-format off
  static const KeyTable table{
      "NEXTVLAD",
      "NeXtVLAD (spec §6.3): per modality a NeXtVLAD unit (expansion fc, group attention, cluster soft-assignment with a frame-level BatchNorm over the real frames, VLAD residuals, intra-normalisation, BatchNorm) over all frames of each video, then dropout -> hidden fc -> BatchNorm -> SE context gating -> logistic fc. The reader feeds raw 0..255 values (MODEL.dequantize false); the network dequantizes and multiplies rgb by sqrt(eigenvalue) + 1e-4 of MODEL.eigen_file in the graph. Changes the defaults of the original's configs/nextvlad.txt (Adam 2e-4, x0.8 every lr_boundary_examples / batch_size iterations below max_iter, L2 1e-5 on the classifier only). Weights: the original's released `nextvlad_youtube8m` (Paddle names), see docs/models/nextvlad.md.",
      {
          {"video_feature_size", S::kModel, int64_t{1024}, 1, 1e6, {}, "rgb feature width (the original hard-codes 1024)", {}},
          {"audio_feature_size", S::kModel, int64_t{128}, 1, 1e6, {}, "audio feature width (the original hard-codes 128)", {}},
          {"cluster_size", S::kModel, int64_t{128}, 1, 65536, {}, "K: clusters of each NeXtVLAD unit", {}},
          {"expansion", S::kModel, int64_t{2}, 1, 64, {}, "lambda: width of the expansion fc = expansion x feature width", {}},
          {"groups", S::kModel, int64_t{8}, 1, 4096, {}, "G: groups (expansion x feature width must be divisible by it)", {}},
          {"hidden_size", S::kModel, int64_t{2048}, 1, 1e6, {}, "width of the hidden fc and of the gates", {}},
          {"gating_reduction", S::kModel, int64_t{8}, 1, 1e6, {}, "the gates' bottleneck is hidden_size / gating_reduction wide", {}},
          {"drop_rate", S::kModel, 0.5, 0, 0.999, {}, "dropout probability before the hidden fc", {"dropout"}},
          {"dropout_impl", S::kModel, std::string("downgrade_in_infer"), -kInf, kInf, {"downgrade_in_infer", "upscale_in_train"}, "dropout scaling: `downgrade_in_infer` = Fluid's (the original: no scaling in training, x(1-p) at inference); `upscale_in_train` = x/(1-p) in training, identity at inference", {}},
          {"eigen_file", S::kModel, std::string("./dataset/youtube8m/yt8m_pca/eigenvals.npy"), -kInf, kInf, {}, "the YouTube-8M PCA eigenvalues (.npy float32 [2048, 1], e.g. ../shared/data/yt8m/pca_eigenvals.npy); rgb is multiplied by sqrt(eigenvalue) + 1e-4 of the first 1024; relative to the working directory; a missing file is an error (as the original); `none` = multiplier 1 (the weights' own eigen_param, when loaded, replaces it either way)", {}},
          {"l2_penalty", S::kTrain, 1e-5, 0, 1, {}, "L2 decay of the classifier (logits_clf weight and bias); the other parameters take TRAIN.l2_weight_decay (0)", {}},
      },
      {
          {"MODEL.num_classes", int64_t{3862}},
          {"MODEL.seg_num", int64_t{0}},
          {"MODEL.dequantize", false},
          {"TRAIN.epoch", int64_t{6}},
          {"TRAIN.batch_size", int64_t{160}},
          {"VALID.batch_size", int64_t{160}},
          {"TEST.batch_size", int64_t{40}},
          {"INFER.batch_size", int64_t{1}},
          {"TRAIN.optimizer", std::string("adam")},
          {"TRAIN.learning_rate", 0.0002},
          {"TRAIN.lr_policy", std::string("exponential")},
          {"TRAIN.learning_rate_decay", 0.8},
          {"TRAIN.decay_examples", int64_t{2000000}},
          {"TRAIN.decay_max_iterations", int64_t{700000}},
          {"TRAIN.l2_weight_decay", 0.0},
      },
      [](const Config& cfg, const std::string& where) {
        if (cfg.model.b("dequantize")) {
          throw ConfigError(where + ": MODEL.dequantize must be false for NEXTVLAD: the network "
                            "dequantizes the raw 0..255 features itself (spec §6.3)");
        }
      }};
  // clang-format on
  return table;
}

// The rgb multiplier of MODEL.eigen_file (undefined tensor for `none`).
torch::Tensor eigen_scale(const Config& cfg) {
  const std::string& path = cfg.model.s("eigen_file");
  if (path == "none") return {};
  if (!std::filesystem::exists(path)) {
    throw ConfigError(cfg.where() + ": MODEL.eigen_file '" + path +
                      "' does not exist (the YouTube-8M PCA eigenvalues, .npy [2048, 1]; set "
                      "`eigen_file: none` to run without them)");
  }
  const int64_t width = cfg.model.i("video_feature_size");
  try {
    // [2048, 1] float32 in the original; nextvlad_eigen_scale checks dtype, shape and values.
    return models::nextvlad_eigen_scale(read_npy(path), width);
  } catch (const std::invalid_argument& e) {
    throw IoError(path + ": " + e.what());
  }
}

models::VideoModelPtr make_nextvlad(const Config& cfg, Mode) {
  return models::NextVlad(models::NextVladOptions()
                              .num_classes(cfg.model.i("num_classes"))
                              .video_feature_size(cfg.model.i("video_feature_size"))
                              .audio_feature_size(cfg.model.i("audio_feature_size"))
                              .cluster_size(cfg.model.i("cluster_size"))
                              .expansion(cfg.model.i("expansion"))
                              .groups(cfg.model.i("groups"))
                              .hidden_size(cfg.model.i("hidden_size"))
                              .gating_reduction(cfg.model.i("gating_reduction"))
                              .dropout(cfg.model.f("drop_rate"))
                              .dropout_impl(models::parse_dropout_impl(cfg.model.s("dropout_impl")))
                              .eigen_scale(eigen_scale(cfg)))
      .ptr();
}

// The original's only regularizer: L2Decay(l2_penalty) in the ParamAttr of logits_clf's weight
// and bias (spec §6.3); every other parameter takes the global TRAIN.l2_weight_decay (0).
std::vector<ParamGroup> nextvlad_param_groups(models::VideoModelImpl& model, const Config& cfg) {
  ParamGroup rest, clf;
  rest.name = "default";
  clf.name = "classifier";
  clf.weight_decay = cfg.section(Mode::kTrain).f("l2_penalty");
  for (auto& p : model.named_parameters()) {
    if (!p.value().requires_grad()) continue;
    (p.key().rfind("logits_clf.", 0) == 0 ? clf : rest).params.emplace_back(p.key(), p.value());
  }
  return {rest, clf};
}

}  // namespace

NameMap nextvlad_paddle_map(const Config& cfg) {
  // Explicitly named parameters (spec §6.3, §7) and the six auto-named batch norms in creation
  // order: video cluster, video vlad, audio cluster, audio vlad, hidden, gating.
  NameMap map;
  for (const char* unit : {"video", "audio"}) {
    const std::string p = std::string(unit) + "_", o = std::string(unit) + ".";
    map.rename(p + "fc_expansion_w", o + "fc_expansion.weight", /*transpose=*/true);
    map.rename(p + "fc_expansion_b", o + "fc_expansion.bias");
    map.rename(p + "fc_group_attention_w", o + "fc_group_attention.weight", /*transpose=*/true);
    map.rename(p + "fc_group_attention_b", o + "fc_group_attention.bias");
    map.rename(p + "cluster_weights", o + "cluster_weights");    // [lambda F, G K] as is
    map.rename(p + "cluster_weights2", o + "cluster_weights2");  // [K, F'] as is
  }
  const char* bns[] = {"video.cluster_bn", "video.vlad_bn", "audio.cluster_bn",
                       "audio.vlad_bn",    "hidden1_bn",    "gating_bn"};
  const torch::Tensor zero = torch::zeros({}, torch::kLong);
  for (int i = 0; i < 6; ++i) {
    const std::string p = "batch_norm_" + std::to_string(i), o = bns[i];
    map.rename(p + ".w_0", o + ".weight");
    map.rename(p + ".b_0", o + ".bias");
    map.rename(p + ".w_1", o + ".running_mean");
    map.rename(p + ".w_2", o + ".running_var");
    map.fill_default(o + ".num_batches_tracked", zero);
  }
  map.rename("hidden1_fc_weights", "hidden1_fc.weight", /*transpose=*/true);
  map.rename("gating_fc1_weights", "gating_fc1.weight", /*transpose=*/true);
  map.rename("gating_fc2_weights", "gating_fc2.weight", /*transpose=*/true);
  map.rename("logits_clf_weights", "logits_clf.weight", /*transpose=*/true);
  map.rename("logits_clf_bias", "logits_clf.bias");
  map.rename("eigen_param", "eigen_param");
  // Whether the released tarball holds eigen_param is unknown (spec §10): without it, the
  // multiplier comes from MODEL.eigen_file (ones for `none`).
  const torch::Tensor e = eigen_scale(cfg);
  map.fill_default("eigen_param",
                   e.defined() ? e : torch::ones({cfg.model.i("video_feature_size")}));
  map.ignore_paddle_optimizer_state();
  return map;
}

ModelEntry nextvlad_row() {
  return {"NEXTVLAD",
          "NeXtVLAD: grouped NetVLAD aggregation of all frame features with SE gating "
          "(YouTube-8M, multi-label)",
          {&feature_reader_keys(), &nextvlad_keys()},
          make_nextvlad,
          make_feature_dataset,
          multi_label_task([](const Config& c) {
            return std::make_unique<metrics::Youtube8mMeter>(c.model.i("num_classes"), 20);
          }),
          nextvlad_param_groups,
          nullptr,  // no pretrain in the original
          "",
          yt8m_example,
          {{"paddle", nextvlad_paddle_map}}};
}

}  // namespace vc::app
