#include "models/nextvlad/nextvlad.h"

#include <sstream>
#include <stdexcept>

#include "models/common/init.h"

namespace vc::models {
namespace {

// Fluid batch_norm defaults (spec §1.2): momentum 0.9 (torch 0.1), eps 1e-5, scale 1, bias 0.
torch::nn::BatchNorm1d fluid_bn(int64_t channels) {
  return torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(channels).eps(1e-5).momentum(0.1));
}

// Fluid l2_normalize (spec §1.10): x / sqrt(sum(x^2) + 1e-12) along `dim`.
torch::Tensor l2_normalize(const torch::Tensor& x, int64_t dim) {
  return x / torch::sqrt(x.pow(2).sum(dim, /*keepdim=*/true) + 1e-12);
}

}  // namespace

torch::Tensor nextvlad_eigen_scale(const torch::Tensor& eigenvals, int64_t width) {
  if (!eigenvals.defined() ||
      !(eigenvals.dim() == 1 || (eigenvals.dim() == 2 && eigenvals.size(1) == 1))) {
    std::ostringstream msg;
    msg << "NeXtVLAD eigenvalues must be [M, 1] or [M], got "
        << (eigenvals.defined() ? eigenvals.sizes() : c10::IntArrayRef{});
    throw std::invalid_argument(msg.str());
  }
  if (!eigenvals.is_floating_point() || eigenvals.size(0) < width) {
    std::ostringstream msg;
    msg << "NeXtVLAD eigenvalues: need at least " << width << " float values, got "
        << eigenvals.size(0) << " of " << eigenvals.scalar_type();
    throw std::invalid_argument(msg.str());
  }
  torch::Tensor e = eigenvals.reshape({-1}).slice(0, 0, width).to(torch::kFloat64);
  if (!torch::isfinite(e).all().item<bool>() || (e < 0).any().item<bool>()) {
    throw std::invalid_argument("NeXtVLAD eigenvalues: the first " + std::to_string(width) +
                                " values must be finite and non-negative (square roots are taken)");
  }
  return (torch::sqrt(e) + 1e-4).to(torch::kFloat32);  // [width]
}

NextVladUnitImpl::NextVladUnitImpl(const NextVladUnitOptions& options_) : options(options_) {
  reset();
}

int64_t NextVladUnitImpl::group_feature_size() const {
  return options.expansion() * options.feature_size() / options.groups();
}

void NextVladUnitImpl::reset() {
  const auto& o = options;
  if (o.feature_size() <= 0 || o.cluster_size() <= 0 || o.expansion() <= 0 || o.groups() <= 0 ||
      (o.expansion() * o.feature_size()) % o.groups() != 0) {
    std::ostringstream msg;
    msg << "NeXtVLAD: feature_size, cluster_size, expansion and groups must be positive and "
           "expansion*feature_size divisible by groups, got feature_size="
        << o.feature_size() << " cluster_size=" << o.cluster_size()
        << " expansion=" << o.expansion() << " groups=" << o.groups();
    throw std::invalid_argument(msg.str());
  }
  const int64_t wide = o.expansion() * o.feature_size();
  const int64_t gk = o.groups() * o.cluster_size();
  fc_expansion = register_module("fc_expansion", torch::nn::Linear(o.feature_size(), wide));
  fc_group_attention = register_module("fc_group_attention", torch::nn::Linear(wide, o.groups()));
  cluster_weights = register_parameter("cluster_weights", torch::empty({wide, gk}));
  cluster_weights2 = register_parameter("cluster_weights2",
                                        torch::empty({o.cluster_size(), group_feature_size()}));
  cluster_bn = register_module("cluster_bn", fluid_bn(gk));
  vlad_bn = register_module("vlad_bn", fluid_bn(o.cluster_size() * group_feature_size()));
  // MSRA normal with Fluid's fan_in (fc: in; create_parameter [a, b]: a), biases 0.
  init_msra_fluid(fc_expansion->weight, /*uniform=*/false);
  init_msra_fluid(fc_group_attention->weight, /*uniform=*/false);
  {
    torch::NoGradGuard no_grad;
    fc_expansion->bias.zero_();
    fc_group_attention->bias.zero_();
    cluster_weights.normal_(0.0, std::sqrt(2.0 / static_cast<double>(wide)));
    cluster_weights2.normal_(0.0, std::sqrt(2.0 / static_cast<double>(o.cluster_size())));
  }
}

torch::Tensor NextVladUnitImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t n = x.size(0), t = x.size(1);
  const int64_t g = options.groups(), k = options.cluster_size(), fp = group_feature_size();
  torch::Tensor wide = fc_expansion(x);                                // [N, T, lambda*F]
  torch::Tensor attention = torch::sigmoid(fc_group_attention(wide));  // [N, T, G]
  torch::Tensor act = torch::matmul(wide, cluster_weights).reshape({n * t, g * k});  // [N*T, G*K]
  if (is_training() && mask.defined()) {
    // Batch statistics of the real frames only (the original's LoD batch has no padding):
    // normalise the gathered real frames, padded rows stay 0 (masked below).
    torch::Tensor idx = mask.reshape({n * t}).nonzero().reshape({-1});  // [M]
    torch::Tensor real = cluster_bn(act.index_select(0, idx));          // [M, G*K]
    act = torch::zeros_like(act).index_copy(0, idx, real);              // [N*T, G*K]
  } else {
    act = cluster_bn(act);  // [N*T, G*K] (eval: running statistics, per frame)
  }
  act = torch::softmax(act.view({n, t, g, k}), /*dim=*/3);                  // [N, T, G, K]
  act = act * attention.unsqueeze(3);                                       // [N, T, G, K]
  if (mask.defined()) act = act * mask.view({n, t, 1, 1}).to(act.dtype());  // padded frames: 0
  torch::Tensor a_sum = act.sum({1, 2});                                    // [N, K]
  torch::Tensor a = a_sum.unsqueeze(2) * cluster_weights2;                  // [N, K, F']
  torch::Tensor assign = act.reshape({n, t * g, k}).transpose(1, 2);        // [N, K, T*G]
  torch::Tensor grouped = wide.reshape({n, t * g, fp});                     // [N, T*G, F']
  torch::Tensor vlad = torch::bmm(assign, grouped) - a;                     // [N, K, F']
  vlad = l2_normalize(vlad.transpose(1, 2), 1);  // [N, F', K] (intra-norm)
  vlad = vlad.reshape({n, fp * k});              // [N, F'*K]
  return vlad_bn(vlad);                          // [N, F'*K]
}

NextVladImpl::NextVladImpl(const NextVladOptions& options_) : options(options_) { reset(); }

void NextVladImpl::reset() {
  const auto& o = options;
  if (o.num_classes() <= 0 || o.hidden_size() <= 0 || o.gating_reduction() <= 0 ||
      o.hidden_size() / o.gating_reduction() <= 0) {
    std::ostringstream msg;
    msg << "NeXtVLAD: num_classes, hidden_size and gating_reduction must be positive with "
           "hidden_size / gating_reduction >= 1, got num_classes="
        << o.num_classes() << " hidden_size=" << o.hidden_size()
        << " gating_reduction=" << o.gating_reduction();
    throw std::invalid_argument(msg.str());
  }
  if (!(o.dropout() >= 0.0 && o.dropout() < 1.0)) {
    throw std::invalid_argument("NeXtVLAD: dropout must be in [0, 1), got " +
                                std::to_string(o.dropout()));
  }
  torch::Tensor e = torch::ones({o.video_feature_size()});
  if (o.eigen_scale().defined()) {
    if (o.eigen_scale().dim() != 1 || o.eigen_scale().size(0) != o.video_feature_size()) {
      std::ostringstream msg;
      msg << "NeXtVLAD: eigen_scale must be [" << o.video_feature_size() << "], got "
          << o.eigen_scale().sizes();
      throw std::invalid_argument(msg.str());
    }
    e = o.eigen_scale().detach().to(torch::kFloat32).clone();
  }
  eigen_param = register_buffer("eigen_param", e);
  auto unit = [&](int64_t f) {
    return NextVladUnit(NextVladUnitOptions(f)
                            .cluster_size(o.cluster_size())
                            .expansion(o.expansion())
                            .groups(o.groups()));
  };
  video = register_module("video", unit(o.video_feature_size()));
  audio = register_module("audio", unit(o.audio_feature_size()));
  const int64_t concat = video->options.cluster_size() * video->group_feature_size() +
                         audio->options.cluster_size() * audio->group_feature_size();
  const int64_t gate = o.hidden_size() / o.gating_reduction();
  auto no_bias = [](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  };
  hidden1_fc = register_module("hidden1_fc", no_bias(concat, o.hidden_size()));
  hidden1_bn = register_module("hidden1_bn", fluid_bn(o.hidden_size()));
  gating_fc1 = register_module("gating_fc1", no_bias(o.hidden_size(), gate));
  gating_bn = register_module("gating_bn", fluid_bn(gate));
  gating_fc2 = register_module("gating_fc2", no_bias(gate, o.hidden_size()));
  logits_clf = register_module("logits_clf", torch::nn::Linear(o.hidden_size(), o.num_classes()));
  for (auto* fc : {&hidden1_fc, &gating_fc1, &gating_fc2, &logits_clf}) {
    init_msra_fluid((*fc)->weight, /*uniform=*/false);
  }
  {
    torch::NoGradGuard no_grad;
    logits_clf->bias.zero_();
  }
  fluid_dropout = nullptr;
  torch_dropout = nullptr;
  if (o.dropout() > 0.0) {
    if (o.dropout_impl() == DropoutImpl::kDowngradeInInfer) {
      fluid_dropout =
          register_module("dropout", FluidDropout(FluidDropoutOptions().p(o.dropout())));
    } else {
      torch_dropout = register_module(
          "dropout", torch::nn::Dropout(torch::nn::DropoutOptions().p(o.dropout())));
    }
  }
}

torch::Tensor NextVladImpl::forward(const ModelInput& input) {
  const torch::Tensor& rgb = input.at("rgb");
  const torch::Tensor& aud = input.at("audio");
  const int64_t vf = options.video_feature_size(), af = options.audio_feature_size();
  if (rgb.dim() != 3 || rgb.size(2) != vf || aud.dim() != 3 || aud.size(2) != af ||
      aud.size(0) != rgb.size(0) || aud.size(1) != rgb.size(1) || rgb.size(1) == 0) {
    std::ostringstream msg;
    msg << "NeXtVLAD expects rgb [N, T, " << vf << "] and audio [N, T, " << af
        << "] with T > 0 (raw 0..255 values), got rgb " << rgb.sizes() << " and audio "
        << aud.sizes();
    throw std::invalid_argument(msg.str());
  }
  torch::Tensor mask;
  if (input.has("mask")) {
    mask = input.at("mask");
    if (mask.dim() != 2 || mask.size(0) != rgb.size(0) || mask.size(1) != rgb.size(1)) {
      std::ostringstream msg;
      msg << "NeXtVLAD: mask must be [N, T] = [" << rgb.size(0) << ", " << rgb.size(1) << "], got "
          << mask.sizes();
      throw std::invalid_argument(msg.str());
    }
  }
  // In-graph input processing of the June snapshot (spec §6.3); no gradient into the inputs.
  const double scale = 4.0 / 255.0;
  torch::Tensor v = (rgb.detach() * scale - 2.0) * eigen_param;       // [N, T, vf]
  torch::Tensor a = aud.detach() * scale + (4.0 / 512.0 - 2.0);       // [N, T, af]
  torch::Tensor x = torch::cat({video(v, mask), audio(a, mask)}, 1);  // [N, concat]
  if (fluid_dropout) x = fluid_dropout(x);
  if (torch_dropout) x = torch_dropout(x);
  torch::Tensor hidden = hidden1_bn(hidden1_fc(x));                  // [N, hidden]
  torch::Tensor gates = torch::relu(gating_bn(gating_fc1(hidden)));  // [N, hidden/r]
  gates = torch::sigmoid(gating_fc2(gates));                         // [N, hidden]
  return logits_clf(hidden * gates);                                 // [N, num_classes]
}

}  // namespace vc::models
