// Registry row of StNet (spec §6.7): Kinetics reader with super-images (seglen frames per
// segment), the original's per-mode defaults (seg_num 7 / seglen 5; TEST and INFER seg_num 25
// and target_size 256), single-label task, the Paddle name map of the released `stnet_kinetics`
// weights and the ImageNet pretrain loader with conv1 inflated as the original.
#include <array>

#include "models/stnet/stnet.h"
#include "tools/common/errors.h"
#include "tools/common/logging.h"
#include "tools/common/readers.h"
#include "tools/common/rows/rows.h"

namespace vc::app {
namespace {

const KeyTable& stnet_keys() {
  using S = KeyScope;
  // clang-format off
  static const KeyTable table{
      "STNET",
      "StNet (spec §6.7): super-images of seglen frames through a ResNet with temporal conv3d blocks after res3 / res4, a temporal Xception block, max over time, fc. The original's defaults: seg_num 7 and seglen 5, TEST / INFER with seg_num 25 and 256 crops.",
      {
          {"num_layers", S::kModel, int64_t{50}, 18, 152, {"18", "34", "50", "101", "152"}, "ResNet depth of the trunk (the original: 50; other depths use the trunk's widths for the temporal and Xception blocks)", {}},
      },
      {
          {"MODEL.seg_num", int64_t{7}},
          {"MODEL.seglen", int64_t{5}},
          {"TEST.seg_num", int64_t{25}},
          {"TEST.target_size", int64_t{256}},
          {"INFER.seg_num", int64_t{25}},
          {"INFER.target_size", int64_t{256}},
      },
      nullptr};
  // clang-format on
  return table;
}

models::VideoModelPtr make_stnet(const Config& cfg, Mode mode) {
  const SectionConfig& s = cfg.section(mode);
  return models::Stnet(models::StnetOptions()
                           .num_classes(cfg.model.i("num_classes"))
                           .seglen(s.i("seglen"))
                           .depth(cfg.model.i("num_layers")))
      .ptr();
}

/// ResNet blocks per stage for a depth, and whether they are bottlenecks.
std::array<int, 4> resnet_blocks(int depth, bool* bottleneck) {
  *bottleneck = depth >= 50;
  switch (depth) {
    case 18:
      return {2, 2, 2, 2};
    case 34:
    case 50:
      return {3, 4, 6, 3};
    case 101:
      return {3, 4, 23, 3};
    case 152:
      return {3, 8, 36, 3};
    default:
      throw ConfigError("STNET: num_layers " + std::to_string(depth) +
                        " is not one of 18, 34, 50, 101, 152");
  }
}

}  // namespace

std::pair<int, int> stnet_paddle_batch_norm_ids(int depth) {
  // Fluid's global batch_norm counter (spec §1.5) counts the trunk's BN layers built before each
  // temporal block: conv1's, then per block one per conv (3 bottleneck / 2 basic) plus the
  // shortcut's where the shape changes (block a of each stage; of layer1 for bottlenecks only).
  bool bottleneck = true;
  const std::array<int, 4> blocks = resnet_blocks(depth, &bottleneck);
  const int convs = bottleneck ? 3 : 2;
  const auto stage_bns = [&](int stage) {  // 0-based
    const bool shortcut = stage > 0 || bottleneck;
    return blocks[stage] * convs + (shortcut ? 1 : 0);
  };
  const int first = 1 + stage_bns(0) + stage_bns(1);  // 24 for ResNet-50
  const int second = first + 1 + stage_bns(2);        // 44 for ResNet-50
  return {first, second};
}

NameMap stnet_paddle_map(int depth) {
  NameMap map = paddle_resnet_map("backbone.", depth, "fc");  // + fc_0 -> fc (transposed)
  const torch::Tensor zero = torch::zeros({}, torch::kLong);
  const auto [bn3, bn4] = stnet_paddle_batch_norm_ids(depth);
  const std::array<std::pair<int, std::string>, 2> temporal = {
      std::pair<int, std::string>{bn3, "temporal_res3"}, {bn4, "temporal_res4"}};
  const char* bn_vars[][2] = {
      {"w_0", "weight"}, {"b_0", "bias"}, {"w_1", "running_mean"}, {"w_2", "running_var"}};
  for (size_t k = 0; k < temporal.size(); ++k) {
    const std::string ours = temporal[k].second;
    const std::string conv = "conv3d_" + std::to_string(k);
    map.rename(conv + ".w_0", ours + ".conv.weight");
    map.rename(conv + ".b_0", ours + ".conv.bias");
    const std::string bn = "batch_norm_" + std::to_string(temporal[k].first);
    for (const auto& v : bn_vars) map.rename(bn + "." + v[0], ours + ".bn." + v[1]);
    // Spec §10: the auto names are derived, not observed. If the trunk's BN layers were built
    // with name= they would not consume the counter and the temporal BNs would be
    // batch_norm_0 / batch_norm_1: accepted too (a rule, so its absence is not reported).
    for (const auto& v : bn_vars) {
      map.rule({"batch_norm_" + std::to_string(k) + "\\." + v[0], ours + ".bn." + v[1], false});
    }
    map.fill_default(ours + ".bn.num_batches_tracked", zero);
  }
  for (const char* conv : {"att_conv", "att_2", "att1", "att1_2", "dw"}) {
    map.rename(std::string("xception_") + conv + ".w_0",
               std::string("xception.") + conv + ".weight");
    map.rename(std::string("xception_") + conv + ".b_0", std::string("xception.") + conv + ".bias");
  }
  for (const char* bn : {"bn", "bndw", "bn2"}) {
    for (const auto& v : bn_vars) {
      map.rename(std::string("xception_") + bn + "." + v[0],
                 std::string("xception.") + bn + "." + v[1]);
    }
    map.fill_default(std::string("xception.") + bn + ".num_batches_tracked", zero);
  }
  return map;
}

namespace {

void load_stnet_pretrain(models::VideoModelImpl& model, const std::string& path) {
  auto* net = dynamic_cast<models::StnetImpl*>(&model);
  if (net == nullptr) throw ConfigError("STNET --pretrain: the model is not an StNet");
  const int64_t seglen = net->options.seglen();
  // STNET.load_pretrain_params: every trunk parameter except fc_0 / batch_norm / xception /
  // conv3d (the temporal parts start from their init).
  StateDict sd = read_resnet_pretrain(path, net->options.depth(),
                                      {"fc_0", "batch_norm", "xception", "conv3d"});
  for (auto& [name, w] : sd) {
    if (name != "conv1.weight") continue;
    if (w.dim() != 4) {
      throw StateDictError("--pretrain " + path + ": conv1 weight should be 4-D, got " +
                           std::to_string(w.dim()) + "-D");
    }
    if (w.size(1) == 3) {
      // The original: mean over the input channels / seglen, repeated 3*seglen times:
      // [64, 3, 7, 7] -> [64, 3*seglen, 7, 7].
      w = (w.mean(1, /*keepdim=*/true) / static_cast<double>(seglen))  // [64, 1, 7, 7]
              .repeat({1, 3 * seglen, 1, 1});                          // [64, 3*seglen, 7, 7]
    } else if (w.size(1) != 3 * seglen) {
      throw StateDictError("--pretrain " + path + ": conv1 weight has " +
                           std::to_string(w.size(1)) +
                           " input channels; expected 3 (ImageNet, "
                           "inflated here) or 3*seglen = " +
                           std::to_string(3 * seglen));
    }
  }
  LoadOptions opt;
  opt.skip_prefixes = {"fc."};
  load_state_dict(*net->backbone, sd, opt, path);
  log_info("--pretrain " + path + ": conv1 inflated to " + std::to_string(3 * seglen) +
           " input channels (mean / seglen, repeated)");
}

}  // namespace

ModelEntry stnet_row() {
  return {"STNET",
          "StNet: super-images through a ResNet with temporal conv3d and Xception blocks "
          "(Kinetics video)",
          {&kinetics_reader_keys(), &stnet_keys()},
          make_stnet,
          make_kinetics_dataset,
          single_label_task(),
          nullptr,
          load_stnet_pretrain,
          "ImageNet ResNet weights: a torchvision state dict or Paddle's ResNet50_pretrained "
          "directory (conv1 is inflated to 3*seglen channels)",
          kinetics_example,
          {{"paddle", [](const Config& cfg) {
              return stnet_paddle_map(static_cast<int>(cfg.model.i("num_layers")));
            }}}};
}

}  // namespace vc::app
