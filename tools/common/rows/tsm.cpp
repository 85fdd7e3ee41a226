#include "models/tsm/tsm.h"
#include "tools/common/readers.h"
#include "tools/common/rows/rows.h"

namespace vc::app {
namespace {

const KeyTable& tsm_keys() {
  using S = KeyScope;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // clang-format off
  static const KeyTable table{
      "TSM",
      "Temporal Shift Module (spec §6.6): TSN's ResNet with a temporal shift on the residual branch of every block, dropout on the per-frame features, average consensus, fc. The network's clip length is MODEL/mode seg_num (the model is built with the mode's value; validation during training uses TRAIN's). Changes the defaults of the original's configs/tsm.txt. Weights: the original's Paddle ones, the official PyTorch TSM checkpoints and mmaction2's TSM checkpoints (recognised by their keys; they set shift_direction and dropout_impl), see docs/models/tsm.md.",
      {
          {"num_layers", S::kModel, int64_t{50}, 18, 152, {"18", "34", "50", "101", "152"}, "ResNet depth of the trunk", {}},
          {"dropout", S::kModel, 0.5, 0, 0.999, {}, "dropout probability on the per-frame features before the consensus (the original: 0.5)", {}},
          {"dropout_impl", S::kModel, std::string("downgrade_in_infer"), -kInf, kInf, {"downgrade_in_infer", "upscale_in_train"}, "dropout scaling: `downgrade_in_infer` = Fluid's (the original: no scaling in training, x(1-p) at inference); `upscale_in_train` = PyTorch's (x/(1-p) in training, identity at inference), what PyTorch-trained weights expect", {}},
          {"shift_ratio", S::kModel, 0.125, 0.001, 0.5, {}, "fraction of channels shifted each way (1/8)", {}},
          {"shift_direction", S::kModel, std::string("paddle"), -kInf, kInf, {"paddle", "torch"}, "`paddle`: channels [0, C*r) take frame t-1 and [C*r, 2C*r) frame t+1 (Fluid's temporal_shift, the original's weights); `torch`: [0, C/8) take t+1 and [C/8, C/4) t-1 (official PyTorch TSM and mmaction2 weights)", {}},
      },
      {
          {"MODEL.seg_num", int64_t{8}},
          {"MODEL.multi_scale_crop", true},
          {"TRAIN.epoch", int64_t{65}},
          {"TRAIN.batch_size", int64_t{128}},
          {"VALID.batch_size", int64_t{128}},
          {"TEST.batch_size", int64_t{16}},
          {"INFER.batch_size", int64_t{1}},
          {"TRAIN.learning_rate", 0.01},
          {"TRAIN.learning_rate_decay", 0.1},
          {"TRAIN.decay_epochs", std::vector<int64_t>{40, 60}},
          {"TRAIN.l2_weight_decay", 1e-4},
          {"TRAIN.momentum", 0.9},
      },
      nullptr};
  // clang-format on
  return table;
}

models::VideoModelPtr make_tsm(const Config& cfg, Mode mode) {
  const SectionConfig& s = cfg.section(mode);
  return models::Tsm(
             models::TsmOptions()
                 .num_classes(cfg.model.i("num_classes"))
                 .seg_num(s.i("seg_num"))
                 .seglen(s.i("seglen"))
                 .depth(cfg.model.i("num_layers"))
                 .dropout(cfg.model.f("dropout"))
                 .dropout_impl(models::parse_dropout_impl(cfg.model.s("dropout_impl")))
                 .shift_ratio(cfg.model.f("shift_ratio"))
                 .shift_direction(models::parse_shift_direction(cfg.model.s("shift_direction"))))
      .ptr();
}

// The original's ParamAttr of fc_0.b_0: learning_rate=2.0, L2Decay(0) (spec §6.6); every other
// parameter (fc weight, convs, BN scale/offset) takes the global L2.
std::vector<ParamGroup> tsm_param_groups(models::VideoModelImpl& model, const Config&) {
  ParamGroup rest, fc_bias;
  rest.name = "default";
  fc_bias.name = "fc_bias";
  fc_bias.lr_mult = 2.0;
  fc_bias.weight_decay = 0.0;
  for (auto& p : model.named_parameters()) {
    if (!p.value().requires_grad()) continue;
    (p.key() == "fc.bias" ? fc_bias : rest).params.emplace_back(p.key(), p.value());
  }
  return {rest, fc_bias};
}

}  // namespace

ModelEntry tsm_row() {
  return {"TSM",
          "Temporal Shift Module: ResNet per frame with temporal channel shifts (Kinetics video)",
          {&kinetics_reader_keys(), &tsm_keys()},
          make_tsm,
          make_kinetics_dataset,
          single_label_task(),
          tsm_param_groups,
          load_resnet_pretrain,
          "an ImageNet ResNet state dict as torchvision writes it "
          "(torch.save(torchvision.models.resnet50(weights=...).state_dict(), f))",
          kinetics_example,
          {{"paddle",
            [](const Config& cfg) {
              return paddle_resnet_map("backbone.", static_cast<int>(cfg.model.i("num_layers")),
                                       "fc");
            }}},
          {pytorch_tsm_family(), mmaction2_resnet_family(/*shifted=*/true)}};
}

}  // namespace vc::app
