// models/common/memory_format.h: a train step with channels-last weights gives the NCHW step's
// loss, gradients and BN statistics on every Kinetics network, and in float32 (LibTorch's oneDNN
// kernels) every batch norm of the step sees channels-last activations: no layer falls back to
// NCHW. The equality is checked in float64 (same kernels' arithmetic, 1e-9): a randomly
// initialised deep network in training mode is so ill-conditioned at test sizes that float32
// rounding alone moves some gradients by several percent (torchvision's ResNet-50 in PyTorch:
// float32 vs float64 up to 5 % per tensor, by norm), so float32 equality would prove nothing.
#include "models/common/memory_format.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/record_function.h>

#include <functional>
#include <string>
#include <vector>

#include "models/nonlocal/nonlocal.h"
#include "models/stnet/stnet.h"
#include "models/tsm/tsm.h"
#include "models/tsn/tsn.h"

namespace vc::models {
namespace {

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

// Builds the network twice from one seed in float64, lays the second out channels-last, runs one
// training forward / backward of each on `clips`, and compares.
// The same sizes and strides on every axis longer than 1 (what the optimizer's one-pass update
// needs; a size-1 axis's stride is free).
bool same_memory_order(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() != b.sizes()) return false;
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (a.size(d) > 1 && a.stride(d) != b.stride(d)) return false;
  }
  return true;
}

void expect_same_step(const std::function<VideoModelPtr()>& make, const torch::Tensor& clips,
                      int64_t expect_2d, int64_t expect_frames = 0) {
  torch::manual_seed(0);
  VideoModelPtr plain = make();
  torch::manual_seed(0);
  VideoModelPtr cl = make();
  plain->to(torch::kDouble);
  cl->to(torch::kDouble);
  const ChannelsLastReport r = to_channels_last(*cl);
  EXPECT_EQ(r.weights_2d, expect_2d);
  EXPECT_EQ(r.weights_frames, expect_frames);
  plain->train();
  cl->train();
  const torch::Tensor input = clips.to(torch::kDouble);
  const torch::Tensor target = torch::arange(clips.size(0)) % 3;
  torch::manual_seed(1);  // the same dropout masks
  const torch::Tensor loss_plain =
      torch::nn::functional::cross_entropy(plain->forward(input), target);
  torch::manual_seed(1);
  const torch::Tensor loss_cl = torch::nn::functional::cross_entropy(cl->forward(input), target);
  loss_plain.backward();
  loss_cl.backward();
  EXPECT_NEAR(loss_cl.item<double>(), loss_plain.item<double>(),
              1e-9 * std::abs(loss_plain.item<double>()));

  const auto a = plain->named_parameters();
  const auto b = cl->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  int64_t relaid = 0, relaid_frames = 0;
  for (const auto& item : a) {
    const std::string& name = item.key();
    const torch::Tensor& pa = item.value();
    const torch::Tensor& pb = b[name];
    EXPECT_TRUE(torch::equal(pa, pb)) << name;  // the same values
    if (pb.dim() == 4) {
      ++relaid;
      EXPECT_TRUE(pb.is_contiguous(torch::MemoryFormat::ChannelsLast)) << name;
    } else if (pb.dim() == 5 && pb.size(2) == 1) {
      ++relaid_frames;
      EXPECT_TRUE(pb.is_contiguous(torch::MemoryFormat::ChannelsLast3d)) << name;
    } else {
      EXPECT_TRUE(pb.is_contiguous()) << name;
    }
    ASSERT_EQ(pa.grad().defined(), pb.grad().defined()) << name;
    if (!pa.grad().defined()) continue;
    const torch::Tensor& ga = pa.grad();
    const torch::Tensor& gb = pb.grad();
    EXPECT_LE(max_abs(ga - gb), 1e-9 * max_abs(ga) + 1e-15) << name;
    // In the parameter's own layout, as the optimizer's one-pass update needs.
    EXPECT_TRUE(same_memory_order(gb, pb)) << name << " " << gb.strides() << " " << pb.strides();
  }
  EXPECT_EQ(relaid, expect_2d);
  EXPECT_EQ(relaid_frames, expect_frames);
  // BN running statistics updated alike.
  const auto ba = plain->named_buffers();
  const auto bb = cl->named_buffers();
  for (const auto& item : ba) {
    const torch::Tensor& x = item.value();
    if (!x.is_floating_point()) continue;
    EXPECT_LE(max_abs(x - bb[item.key()]), 1e-9 * (max_abs(x) + 1.0)) << item.key();
  }
  // Evaluation with the re-laid weights (train's validation) gives the NCHW logits.
  plain->eval();
  cl->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor eval_plain = plain->forward(input);
  EXPECT_LE(max_abs(cl->forward(input) - eval_plain), 1e-9 * (max_abs(eval_plain) + 1.0));
}

// The memory formats of the inputs of every 2-D aten::batch_norm call in a float32 training
// forward / backward of `make()` laid out channels-last: how many were channels-last, how many
// not. (StNet's Xception block's [N, F, T, 1] BN is not a conv activation: not counted.)
thread_local std::vector<bool>* t_bn_channels_last = nullptr;
std::pair<int64_t, int64_t> batch_norm_layouts(const std::function<VideoModelPtr()>& make,
                                               const torch::Tensor& clips) {
  torch::manual_seed(0);
  VideoModelPtr net = make();
  to_channels_last(*net);
  net->train();
  std::vector<bool> seen;
  t_bn_channels_last = &seen;
  const at::CallbackHandle h = at::addThreadLocalCallback(
      at::RecordFunctionCallback(
          [](const at::RecordFunction& fn) -> std::unique_ptr<at::ObserverContext> {
            if (t_bn_channels_last == nullptr || std::string(fn.name()) != "aten::batch_norm") {
              return nullptr;
            }
            const auto inputs = fn.inputs();
            if (inputs.empty() || !inputs[0].isTensor()) return nullptr;
            const torch::Tensor& x = inputs[0].toTensor();
            // 2-D batch norms only (not StNet's BatchNorm1d / 3d in its temporal blocks).
            if (x.dim() != 4 || x.size(3) == 1) return nullptr;
            t_bn_channels_last->push_back(x.is_contiguous(torch::MemoryFormat::ChannelsLast));
            return nullptr;
          })
          .needsInputs(true)
          .scopes({at::RecordScope::FUNCTION}));
  const torch::Tensor target = torch::arange(clips.size(0)) % 3;
  torch::nn::functional::cross_entropy(net->forward(clips), target).backward();
  at::removeCallback(h);
  t_bn_channels_last = nullptr;
  int64_t yes = 0;
  for (const bool b : seen) yes += b;
  return {yes, static_cast<int64_t>(seen.size()) - yes};
}

int64_t count_dim(torch::nn::Module& m, int64_t dim) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.dim() == dim;
  return n;
}

TEST(ChannelsLast, TsnTrainStepMatchesNchw) {
  const auto make = [] { return Tsn(TsnOptions().num_classes(5).depth(50)).ptr(); };
  expect_same_step(make, torch::randn({2, 3, 3, 64, 64}), /*2-D conv weights*/ 53);
  EXPECT_EQ(batch_norm_layouts(make, torch::randn({2, 3, 3, 64, 64})),
            (std::pair<int64_t, int64_t>{53, 0}));
}

TEST(ChannelsLast, TsmTrainStepMatchesNchwInBothShiftDirections) {
  for (const auto dir : {ShiftDirection::kPaddle, ShiftDirection::kTorch}) {
    SCOPED_TRACE(shift_direction_name(dir));
    const auto make = [dir] {
      return Tsm(TsmOptions().num_classes(5).seg_num(4).depth(50).dropout(0).shift_direction(dir))
          .ptr();
    };
    expect_same_step(make, torch::randn({2, 4, 3, 64, 64}), 53);
    EXPECT_EQ(batch_norm_layouts(make, torch::randn({2, 4, 3, 64, 64})),
              (std::pair<int64_t, int64_t>{53, 0}));
  }
}

TEST(ChannelsLast, StnetTrainStepMatchesNchw) {
  const auto make = [] { return Stnet(StnetOptions().num_classes(5).depth(50).seglen(2)).ptr(); };
  torch::manual_seed(1);
  VideoModelPtr probe = make();
  // The trunk's 53 and the temporal Xception block's 5 (its convolutions over [N, F, T, 1]).
  EXPECT_EQ(count_dim(*probe, 4), 58);
  EXPECT_EQ(count_dim(*probe, 5), 2);  // the two temporal conv3d blocks: left NCDHW
  expect_same_step(make, torch::randn({2, 4, 6, 64, 64}), 58);
  // All 53 trunk BNs, the ones after the temporal blocks included.
  EXPECT_EQ(batch_norm_layouts(make, torch::randn({2, 4, 6, 64, 64})),
            (std::pair<int64_t, int64_t>{53, 0}));
}

// Non-local (C2D): every convolution is frame-wise ([1, k, k]); with the weights re-laid
// ChannelsLast3d the trunk trains in the frame-wise layout (models/common/resnet3d.h): the same
// step, and every batch norm, the non-local blocks' included, runs as a 2-D channels-last one.
// Non-zero BN gammas so that every branch's gradient is non-trivial.
TEST(ChannelsLast, NonlocalTrainsFrameWise) {
  const auto make = [] {
    return Nonlocal(NonlocalOptions()
                        .num_classes(5)
                        .width(4)
                        .pool_kernel({4, 2, 2})
                        .bn_init_gamma(0.5)
                        .nonlocal_bn_init_gamma(0.5)
                        .nonlocal_conv_init_std(0.2))
        .ptr();
  };
  torch::manual_seed(1);
  VideoModelPtr probe = make();
  EXPECT_EQ(count_dim(*probe, 4), 0);
  // conv1, 16 blocks x 3, 4 shortcuts, 5 non-local blocks x 4.
  expect_same_step(make, torch::randn({2, 3, 8, 64, 64}), 0, 1 + 48 + 4 + 20);
  // BN: bn1, 16 blocks x 3, 4 shortcuts, 5 non-local blocks.
  EXPECT_EQ(batch_norm_layouts(make, torch::randn({2, 3, 8, 64, 64})),
            (std::pair<int64_t, int64_t>{58, 0}));
}

// I3D: conv1 [5, 7, 7] and the [3, 1, 1] convolutions are not frame-wise and stay NCDHW, so the
// trunk does not enter the frame-wise layout; the re-laid [1, k, k] weights change nothing.
TEST(ChannelsLast, NonlocalI3dStepUnchanged) {
  const auto make = [] {
    return Nonlocal(NonlocalOptions()
                        .num_classes(5)
                        .width(4)
                        .i3d(true)
                        .pool_kernel({4, 2, 2})
                        .bn_init_gamma(0.5)
                        .nonlocal_bn_init_gamma(0.5))
        .ptr();
  };
  torch::manual_seed(1);
  VideoModelPtr probe = make();
  int64_t frame_wise = 0;
  for (const auto& p : probe->parameters()) frame_wise += p.dim() == 5 && p.size(2) == 1;
  EXPECT_GT(frame_wise, 0);
  EXPECT_LT(frame_wise, 73);
  expect_same_step(make, torch::randn({2, 3, 8, 64, 64}), 0, frame_wise);
}

TEST(ChannelsLast, LeavesOtherParametersAndDropsStaleGradients) {
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)),
                            torch::nn::BatchNorm2d(4), torch::nn::Flatten(),
                            torch::nn::Linear(4 * 6 * 6, 2));
  net->forward(torch::randn({2, 3, 8, 8})).sum().backward();
  const torch::Tensor w = net->parameters()[0];
  ASSERT_TRUE(w.grad().defined());
  const void* before = w.unsafeGetTensorImpl();
  const torch::Tensor values = w.detach().clone();
  const ChannelsLastReport r = to_channels_last(*net);
  EXPECT_EQ(r.weights_2d, 1);
  EXPECT_EQ(net->parameters()[0].unsafeGetTensorImpl(), before);  // the same parameter object
  EXPECT_TRUE(w.is_contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_FALSE(w.is_contiguous());
  EXPECT_TRUE(torch::equal(w, values));
  EXPECT_FALSE(w.grad().defined());
  for (const auto& p : net->parameters()) {
    if (p.dim() < 4) {
      EXPECT_TRUE(p.is_contiguous());
      EXPECT_TRUE(p.grad().defined());  // only re-laid parameters lose theirs
    }
  }
  // Twice is harmless.
  EXPECT_EQ(to_channels_last(*net).weights_2d, 1);
  EXPECT_TRUE(w.is_contiguous(torch::MemoryFormat::ChannelsLast));
}

}  // namespace
}  // namespace vc::models
