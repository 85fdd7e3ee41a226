// Registry row of the Non-local network (spec §6.8): C2D / I3D ResNet-50/101 with non-local
// blocks on the Non-local reader's clips; Nesterov momentum with the iteration-based LR steps;
// no weight decay on BN scale/offset; Paddle names of the released `nonlocal_kinetics`; the
// pretrain loader of `Nonlocal_ResNet50_pretrained` (Paddle) and torchvision ResNet state dicts
// with 2-D -> 3-D kernel inflation.
#include <filesystem>
#include <limits>
#include <set>
#include <unordered_map>

#include "models/nonlocal/nonlocal.h"
#include "tools/common/errors.h"
#include "tools/common/logging.h"
#include "tools/common/readers.h"
#include "tools/common/rows/rows.h"
#include "tools/common/state_dict.h"
#include "tools/common/weights/paddle.h"

namespace vc::app {
namespace {

constexpr double kInf() { return std::numeric_limits<double>::infinity(); }

const KeyTable& nonlocal_keys() {
  using S = KeyScope;
  // clang-format off
  static const KeyTable table{
      "NONLOCAL",
      "Non-local network (spec §6.8): C2D (or I3D) ResNet on 3-D clips with embedded-Gaussian non-local blocks in res3 / res4, pool5, dropout, fc `pred`; at TEST / INFER the fully convolutional head (softmax per position, mean). The original's MODEL / RESNETS / NONLOCAL keys that change something; BN momentum 0.9 and eps 1e-5 are fixed.",
      {
          {"depth", S::kModel, int64_t{50}, 50, 101, {"50", "101"}, "ResNet depth of the backbone (MODEL.depth)", {}},
          {"video_arc_choice", S::kModel, int64_t{1}, 1, 4, {"1", "2", "3", "4"}, "1 = C2D-ResNet50, 2 = I3D-ResNet50, 3 = C2D-ResNet101, 4 = I3D-ResNet101 (depth must agree)", {}},
          {"width_per_group", S::kModel, int64_t{64}, 1, 1024, {}, "channels of the first stage (RESNETS.width_per_group, num_groups 1): 64 = ResNet; smaller values give a tiny network (demo)", {}},
          {"bn_init_gamma", S::kModel, 0.0, -10, 10, {}, "initial gamma of the last BN of every residual block (MODEL.bn_init_gamma; 0 = zero-init)", {}},
          {"fc_init_std", S::kModel, 0.01, 0, 10, {}, "std of the Normal init of the classifier `pred` (bias 0)", {}},
          {"layer_mod", S::kModel, int64_t{2}, 1, 100, {}, "a non-local block follows block idx of res3 / res4 when idx % layer_mod == layer_mod - 1 (NONLOCAL.layer_mod; res4 of depth 101 uses 7 as the original)", {}},
          {"conv3_nonlocal", S::kModel, true, -kInf(), kInf(), {}, "non-local blocks in res3 (NONLOCAL.conv3_nonlocal)", {}},
          {"conv4_nonlocal", S::kModel, true, -kInf(), kInf(), {}, "non-local blocks in res4 (NONLOCAL.conv4_nonlocal)", {}},
          {"nonlocal_conv_init_std", S::kModel, 0.01, 0, 10, {}, "std of the Normal init of theta / phi / g / out (NONLOCAL.conv_init_std; biases 0)", {}},
          {"nonlocal_bn_init_gamma", S::kModel, 0.0, -10, 10, {}, "initial gamma of the BN after `out` (NONLOCAL.bn_init_gamma; 0 = each block starts as the identity)", {}},
          {"nonlocal_use_scale", S::kModel, true, -kInf(), kInf(), {}, "scale the affinities by C'^-0.5 (NONLOCAL.use_scale)", {}},
          {"nonlocal_use_maxpool", S::kModel, true, -kInf(), kInf(), {}, "phi and g read the [1,2,2]-max-pooled input (NONLOCAL.use_maxpool)", {}},
          {"dropout_rate", S::kTrain, 0.5, 0, 0.999, {}, "dropout before `pred`, Fluid semantics (0/1 mask, no rescaling), applied in training only as the original snapshot (TRAIN.dropout_rate)", {}},
          {"dropout_at_eval", S::kModel, false, -kInf(), kInf(), {}, "also scale by (1 - dropout_rate) at evaluation: the 2019-07-19 PaddleVideo fix (false = the snapshot, whose released weights assume no scaling)", {}},
      },
      {
          {"TRAIN.nesterov", true},
          {"TRAIN.lr_policy", std::string("piecewise_iter")},
          {"TRAIN.decay_iterations", std::vector<int64_t>{150000, 300000, 400000}},
          {"TRAIN.epoch", int64_t{120}},
      },
      [](const Config& cfg, const std::string& where) {
        const int64_t arc = cfg.model.i("video_arc_choice");
        const int64_t depth = cfg.model.i("depth");
        const int64_t want = arc <= 2 ? 50 : 101;
        if (depth != want) {
          throw ConfigError(where + ": MODEL.video_arc_choice " + std::to_string(arc) +
                            " is a ResNet-" + std::to_string(want) + " but MODEL.depth is " +
                            std::to_string(depth));
        }
        for (int m = 0; m < 4; ++m) {
          if (cfg.modes[m].i("video_length") < 2) {
            throw ConfigError(where + ": " + cfg.modes[m].section +
                              ".video_length must be >= 2 for Non-local (pool2 halves the time axis)");
          }
        }
      }};
  // clang-format on
  return table;
}

// Spatial size after the trunk for a square input side: conv1 /2 (pad 3), pool1 3/2 without
// padding, three stride-2 3x3 convs (pad 1).
int64_t trunk_side(int64_t side) {
  side = (side - 1) / 2 + 1;  // conv1 7x7 / 2, pad 3
  side = (side - 3) / 2 + 1;  // pool1 3x3 / 2, pad 0
  for (int i = 0; i < 3; ++i) side = (side - 1) / 2 + 1;
  return side;
}

models::NonlocalOptions nonlocal_options(const Config& cfg, Mode mode) {
  const SectionConfig& train = cfg.section(Mode::kTrain);
  // pool5 covers the trunk's output of a TRAIN clip: [video_length / 2, 7, 7] for 8 x 224.
  const int64_t side = trunk_side(train.i("crop_size"));
  const int64_t arc = cfg.model.i("video_arc_choice");
  return models::NonlocalOptions()
      .num_classes(cfg.model.i("num_classes"))
      .depth(cfg.model.i("depth"))
      .i3d(arc == 2 || arc == 4)
      .width(cfg.model.i("width_per_group"))
      .bn_init_gamma(cfg.model.f("bn_init_gamma"))
      .layer_mod(cfg.model.i("layer_mod"))
      .conv3_nonlocal(cfg.model.b("conv3_nonlocal"))
      .conv4_nonlocal(cfg.model.b("conv4_nonlocal"))
      .nonlocal_conv_init_std(cfg.model.f("nonlocal_conv_init_std"))
      .nonlocal_bn_init_gamma(cfg.model.f("nonlocal_bn_init_gamma"))
      .nonlocal_use_scale(cfg.model.b("nonlocal_use_scale"))
      .nonlocal_use_maxpool(cfg.model.b("nonlocal_use_maxpool"))
      .pool_kernel({train.i("video_length") / 2, side, side})
      .dropout(train.f("dropout_rate"))
      .dropout_at_eval(cfg.model.b("dropout_at_eval"))
      .fully_conv_head(mode == Mode::kTest || mode == Mode::kInfer)
      .fc_init_std(cfg.model.f("fc_init_std"));
}

models::VideoModelPtr make_nonlocal(const Config& cfg, Mode mode) {
  return models::Nonlocal(nonlocal_options(cfg, mode)).ptr();
}

// No weight decay on BN scale / offset (backbone and non-local BNs: L2Decay(0) in the
// original); every other parameter (convs, non-local biases, pred) the global L2.
std::vector<ParamGroup> nonlocal_param_groups(models::VideoModelImpl& model, const Config&) {
  std::set<const void*> bn;
  for (const auto& m : model.named_modules("", /*include_self=*/false)) {
    if (dynamic_cast<const torch::nn::BatchNorm3dImpl*>(m.value().get())) {
      for (const auto& p : m.value()->parameters(/*recurse=*/false)) bn.insert(p.data_ptr());
    }
  }
  ParamGroup rest{"default", {}, 1.0, std::nullopt};
  ParamGroup bns{"bn", {}, 1.0, 0.0};
  for (const auto& p : model.named_parameters()) {
    if (!p.value().requires_grad()) continue;
    (bn.count(p.value().data_ptr()) ? bns : rest).params.emplace_back(p.key(), p.value());
  }
  return {rest, bns};
}

const models::NonlocalImpl& as_nonlocal(const models::VideoModelImpl& model) {
  const auto* nl = dynamic_cast<const models::NonlocalImpl*>(&model);
  if (!nl) throw ConfigError("--pretrain: the model is not a Non-local network");
  return *nl;
}

// Copies `sd` (our names) into the model as nonlocal_utils.load_params_from_file: same shape ->
// copy; a 2-D kernel [O, I, kh, kw] for a 3-D one [O, I, kt, kh, kw] -> kt copies along t,
// divided by kt; names the model lacks are ignored; parameters absent from `sd` keep their init.
// The classifier is skipped when its shape differs (ImageNet's 1000 classes); any other
// mismatch throws.
void load_inflated(models::VideoModelImpl& model, const StateDict& sd, const std::string& path) {
  std::unordered_map<std::string, torch::Tensor> ours;
  for (const auto& p : model.named_parameters()) ours.emplace(p.key(), p.value());
  for (const auto& b : model.named_buffers()) ours.emplace(b.key(), b.value());
  int64_t copied = 0, inflated = 0, skipped = 0;
  std::set<std::string> loaded;
  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : sd) {
    auto it = ours.find(name);
    if (it == ours.end()) continue;
    torch::Tensor dst = it->second;
    const auto a = t.sizes(), b = dst.sizes();
    if (a == b) {
      dst.copy_(t.to(dst.dtype()));
      ++copied;
    } else if (a.size() == 4 && b.size() == 5 && a[0] == b[0] && a[1] == b[1] && a[2] == b[3] &&
               a[3] == b[4]) {
      const int64_t kt = b[2];
      dst.copy_(t.to(dst.dtype()).unsqueeze(2).repeat({1, 1, kt, 1, 1}) / static_cast<double>(kt));
      ++inflated;
    } else if (name.rfind("pred.", 0) == 0) {
      log_warn("--pretrain " + path + ": " + name + " has shape " + c10::str(a) + ", the model " +
               c10::str(b) + " (another number of classes): kept its init");
      ++skipped;
      continue;
    } else {
      throw StateDictError("--pretrain " + path + ": " + name + " has shape " + c10::str(a) +
                           ", which neither equals the model's " + c10::str(b) +
                           " nor inflates to it (2-D [O, I, kh, kw] -> 3-D [O, I, kt, kh, kw])");
    }
    loaded.insert(name);
  }
  if (loaded.empty()) {
    throw StateDictError("--pretrain " + path + ": no variable matches a Non-local parameter");
  }
  log_info("pretrain " + path + ": " + std::to_string(copied) + " tensors copied, " +
           std::to_string(inflated) + " inflated 2-D -> 3-D, " + std::to_string(skipped) +
           " skipped; " + std::to_string(ours.size() - loaded.size()) +
           " parameters/buffers keep their init (non-local blocks, ...)");
}

NameMap nonlocal_paddle_map_for(const models::NonlocalOptions& o) {
  NameMap map = paddle_resnet_map("backbone.", static_cast<int>(o.depth()), "pred");
  map.rename("pred_w", "pred.weight", /*transpose=*/true);  // fc layout [in, out]
  map.rename("pred_b", "pred.bias");
  const torch::Tensor zero = torch::zeros({}, torch::kLong);
  for (const auto& [s, b] : models::nonlocal_positions(o)) {
    const std::string p = "nonlocal_conv" + std::to_string(s + 1) + "_" + std::to_string(b);
    const std::string ours = "nonlocal.layer" + std::to_string(s) + "_" + std::to_string(b) + ".";
    for (const char* part : {"theta", "phi", "g", "out"}) {
      map.rename(p + "_" + part + "_w", ours + part + ".weight");
      map.rename(p + "_" + part + "_b", ours + part + ".bias");
    }
    map.rename(p + "_bn_scale", ours + "bn.weight");
    map.rename(p + "_bn_offset", ours + "bn.bias");
    map.rename(p + "_bn_mean", ours + "bn.running_mean");
    map.rename(p + "_bn_variance", ours + "bn.running_var");
    map.fill_default(ours + "bn.num_batches_tracked", zero);
  }
  return map;
}

void load_nonlocal_pretrain(models::VideoModelImpl& model, const std::string& path) {
  namespace fs = std::filesystem;
  const auto& nl = as_nonlocal(model);
  const bool paddle = fs::is_directory(path) ||
                      (path.size() > 9 && path.compare(path.size() - 9, 9, ".pdparams") == 0);
  StateDict sd;
  if (paddle) {
    NameMapReport report;
    sd = nonlocal_paddle_map_for(nl.options).apply(read_paddle_weights(path), path, &report);
    if (!report.unmapped.empty()) {
      log_warn("--pretrain " + path + ": " + std::to_string(report.unmapped.size()) +
               " Paddle variable(s) have no Non-local counterpart and are ignored (first: " +
               report.unmapped.front() + ")");
    }
  } else {
    // A torchvision ResNet state dict: its names are the backbone's; fc.* is ImageNet's head.
    for (auto& [k, v] : read_state_dict(path)) {
      if (k.rfind("fc.", 0) == 0) continue;
      sd.emplace_back("backbone." + k, v);
    }
  }
  load_inflated(model, sd, path);
}

models::ModelInput nonlocal_example(const Config& cfg, Mode mode) {
  // The mode's clip length at 32 px: the trunk leaves 1x1, which pool5 pools whole.
  return models::ModelInput(torch::randn({2, 3, cfg.section(mode).i("video_length"), 32, 32}));
}

}  // namespace

NameMap nonlocal_paddle_map(const Config& cfg) {
  return nonlocal_paddle_map_for(nonlocal_options(cfg, Mode::kTest));
}

ModelEntry nonlocal_row() {
  return {"NONLOCAL",
          "Non-local network: C2D/I3D ResNet on 3-D clips with non-local blocks (Kinetics video)",
          {&nonlocal_reader_keys(), &nonlocal_keys()},
          make_nonlocal,
          make_nonlocal_dataset,
          single_label_task(),
          nonlocal_param_groups,
          load_nonlocal_pretrain,
          "Nonlocal_ResNet50_pretrained (a Paddle per-variable directory or .pdparams) or a "
          "torchvision ResNet-50/101 state dict; 2-D kernels are inflated to 3-D",
          nonlocal_example,
          {{"paddle", nonlocal_paddle_map}}};
}

}  // namespace vc::app
