#include <limits>
#include <memory>
#include <set>

#include "metrics/youtube8m.h"
#include "models/attention_lstm/attention_lstm.h"
#include "tools/common/readers.h"
#include "tools/common/rows/rows.h"

namespace vc::app {
namespace {

const KeyTable& attention_lstm_keys() {
  using S = KeyScope;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // clang-format off
  static const KeyTable table{
      "AttentionLSTM",
      "Attention LSTM (spec §6.2): per modality (rgb, audio) a tanh fc embedding of every frame, forward and reverse peephole LSTMs (Fluid's dynamic_lstm) over the video's own frames, dropout, attention pooling over the valid frames; fc 8192 relu, fc 4096 tanh, fc logits. Reads all frames (MODEL.seg_num 0: padded batches with lengths). Loss: sigmoid cross-entropy summed over classes AND over the batch, as the original (see docs/models/attention_lstm.md). Optimizer: centred RMSProp, L2 on fc weights and LSTM weights and biases, not on fc biases; LR x0.1 after decay_epochs [5] x (num_samples 5000000 // TRAIN.batch_size) iterations, the original's rule (Python 2 division): 24410 at the original batch of 1024, recomputed for any other batch. Changes the defaults of the original's configs/attention_lstm.txt. Weights: the original's Paddle ones (released `attention_lstm_youtube8m`), docs/models/attention_lstm.md.",
      {
          {"embedding_size", S::kModel, int64_t{512}, 1, 1e6, {}, "width of the per-frame tanh fc embedding of each modality", {}},
          {"lstm_size", S::kModel, int64_t{1024}, 1, 1e6, {}, "hidden size H of each LSTM (a modality's pooled output is 2H)", {}},
          {"fc1_size", S::kModel, int64_t{8192}, 1, 1e6, {}, "width of the head's first fc (relu); the original: 8192", {}},
          {"fc2_size", S::kModel, int64_t{4096}, 1, 1e6, {}, "width of the head's second fc (tanh); the original: 4096", {}},
          {"drop_rate", S::kModel, 0.5, 0, 0.999, {}, "dropout probability on the concatenated LSTM outputs", {}},
          {"dropout_impl", S::kModel, std::string("downgrade_in_infer"), -kInf, kInf, {"downgrade_in_infer", "upscale_in_train"}, "dropout scaling: `downgrade_in_infer` = Fluid's (the original: no scaling in training, x(1-p) at inference; the released weights expect it); `upscale_in_train` = PyTorch's (x/(1-p) in training, identity at inference)", {}},
      },
      {
          {"MODEL.num_classes", int64_t{3862}},
          {"MODEL.seg_num", int64_t{0}},
          {"MODEL.dequantize", true},
          {"TRAIN.epoch", int64_t{10}},
          {"TRAIN.batch_size", int64_t{1024}},
          {"VALID.batch_size", int64_t{1024}},
          {"TEST.batch_size", int64_t{128}},
          {"INFER.batch_size", int64_t{1}},
          {"TRAIN.optimizer", std::string("rmsprop")},
          {"TRAIN.rmsprop_rho", 0.95},
          {"TRAIN.rmsprop_epsilon", 1e-6},
          {"TRAIN.rmsprop_momentum", 0.0},
          {"TRAIN.rmsprop_centered", true},
          {"TRAIN.learning_rate", 1e-3},
          {"TRAIN.learning_rate_decay", 0.1},
          {"TRAIN.lr_policy", std::string("piecewise_epoch")},
          {"TRAIN.decay_epochs", std::vector<int64_t>{5}},
          {"TRAIN.num_samples", int64_t{5000000}},
          {"TRAIN.l2_weight_decay", 8e-4},
      },
      nullptr};
  // clang-format on
  return table;
}

models::VideoModelPtr make_attention_lstm(const Config& cfg, Mode) {
  return models::AttentionLstm(
             models::AttentionLstmOptions()
                 .num_classes(cfg.model.i("num_classes"))
                 .embedding_size(cfg.model.i("embedding_size"))
                 .lstm_size(cfg.model.i("lstm_size"))
                 .fc1_size(cfg.model.i("fc1_size"))
                 .fc2_size(cfg.model.i("fc2_size"))
                 .drop_rate(cfg.model.f("drop_rate"))
                 .dropout_impl(models::parse_dropout_impl(cfg.model.s("dropout_impl"))))
      .ptr();
}

// The original's ParamAttr: every fc bias has L2Decay(0); fc weights and both LSTM parameters
// (weight and the [1, 7H] bias with the peepholes) take the optimizer's global L2Decay (§6.2).
std::vector<ParamGroup> attention_lstm_param_groups(models::VideoModelImpl& model, const Config&) {
  std::set<const void*> fc_biases;
  for (const auto& m : model.named_modules()) {
    if (const auto* fc = m.value()->as<torch::nn::Linear>()) fc_biases.insert(fc->bias.data_ptr());
  }
  ParamGroup rest, fc_bias;
  rest.name = "default";
  fc_bias.name = "fc_bias";
  fc_bias.weight_decay = 0.0;
  for (auto& p : model.named_parameters()) {
    if (!p.value().requires_grad()) continue;
    (fc_biases.count(p.value().data_ptr()) ? fc_bias : rest)
        .params.emplace_back(p.key(), p.value());
  }
  return {rest, fc_bias};
}

// Spec §6.2: the original's loss = num_gpus x (sum over the device's batch of the class-summed
// sigmoid CE), with gradients averaged over the devices = the sum over the whole global batch.
// One device holding the global batch: the plain sum over the batch.
torch::Tensor summed_sigmoid_cross_entropy(const torch::Tensor& logits,
                                           const torch::Tensor& target) {
  return sigmoid_cross_entropy(logits, target) * static_cast<double>(logits.size(0));
}

}  // namespace

NameMap attention_lstm_paddle_map(const Config&) {
  // The original's auto names in creation order (spec §6.2): per modality (rgb, audio) fc input,
  // fc forward, lstm forward, fc backward, lstm backward, fc attention; then the head's three fc.
  NameMap map;
  int fc = 0;
  int lstm = 0;
  for (const char* m : {"rgb", "audio"}) {
    const std::string p = std::string(m) + ".";
    auto add_fc = [&](const std::string& ours) {
      const std::string f = "fc_" + std::to_string(fc++);
      map.rename(f + ".w_0", p + ours + ".weight", /*transpose=*/true);  // [in, out]
      map.rename(f + ".b_0", p + ours + ".bias");
    };
    auto add_lstm = [&](const std::string& ours) {
      const std::string l = "lstm_" + std::to_string(lstm++);
      map.rename(l + ".w_0", p + ours + ".weight");  // [H, 4H], Fluid's layout kept
      map.rename(l + ".b_0", p + ours + ".bias");    // [1, 7H], Fluid's layout kept
    };
    add_fc("input_fc");
    add_fc("lstm_forward_fc");
    add_lstm("lstm_forward");
    add_fc("lstm_backward_fc");
    add_lstm("lstm_backward");
    add_fc("attention_fc");
  }
  for (const char* ours : {"fc1", "fc2", "logit"}) {
    const std::string f = "fc_" + std::to_string(fc++);
    map.rename(f + ".w_0", std::string(ours) + ".weight", /*transpose=*/true);
    map.rename(f + ".b_0", std::string(ours) + ".bias");
  }
  map.ignore_paddle_optimizer_state();
  return map;
}

ModelEntry attention_lstm_row() {
  Task task = multi_label_task([](const Config& c) -> std::unique_ptr<metrics::Meter> {
    return std::make_unique<metrics::Youtube8mMeter>(c.model.i("num_classes"), 20);
  });
  task.loss_name = "sigmoid cross-entropy (summed over classes and over the batch)";
  task.loss = summed_sigmoid_cross_entropy;
  task.loss_sums_batch = true;
  return {"AttentionLSTM",
          "Attention LSTM: bidirectional peephole LSTMs with attention pooling over frame "
          "features (YouTube-8M)",
          {&feature_reader_keys(), &attention_lstm_keys()},
          make_attention_lstm,
          make_feature_dataset,
          task,
          attention_lstm_param_groups,
          nullptr,
          "",
          yt8m_example,
          {{"paddle", attention_lstm_paddle_map}}};
}

}  // namespace vc::app
