// Optimizers against hand-written scalar references of the Fluid formulas (spec §1.6-1.7), against
// torch.optim where the semantics coincide, state round trips and errors; LR schedules (§1.8)
// and the original's per-network schedule arithmetic (§6.1-6.8).
#include "tools/common/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace {

using vc::app::LrSchedule;
using vc::app::LrScheduleOptions;
using vc::app::make_optimizer;
using vc::app::OptimizerOptions;
using vc::app::OptimizerState;
using vc::app::ParamGroup;

using Vec = std::vector<double>;

torch::Tensor dparam(const Vec& v) { return torch::tensor(v, torch::kDouble).requires_grad_(true); }
Vec to_vec(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kDouble).contiguous();
  return Vec(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}
void expect_near(const torch::Tensor& t, const Vec& ref, double tol, const std::string& what) {
  const Vec got = to_vec(t);
  ASSERT_EQ(got.size(), ref.size()) << what;
  for (std::size_t i = 0; i < ref.size(); ++i)
    EXPECT_NEAR(got[i], ref[i], tol) << what << "[" << i << "]";
}

/// Deterministic gradient for step s, element i (no randomness in the references).
double grad_at(int s, std::size_t i, int salt) {
  return std::sin(0.7 * s + 1.3 * static_cast<double>(i) + 0.5 * salt) + 0.1 * salt;
}

/// A scalar reference optimizer: update(p, g, lr) for one element, with per-element state.
struct ScalarRef {
  std::function<void(double& p, double g, double lr, std::vector<double>& st, int t)> update;
  int slots;
};

/// Two groups: "default" (global decay, lr x1) and "bias" (lr x2, decay 0), one more group
/// "frozen" whose parameter never gets a gradient. Runs `steps` steps of both the optimizer and
/// the scalar reference and compares after every step.
void run_against_reference(const OptimizerOptions& opts, const ScalarRef& ref, int steps,
                           double tol) {
  const Vec w0 = {0.5, -1.0, 2.0, 0.25}, b0 = {0.1, -0.3};
  auto w = dparam(w0), b = dparam(b0), frozen = dparam({7.0});
  std::vector<ParamGroup> groups(3);
  groups[0] = {"default", {{"w", w}}, 1.0, std::nullopt};
  groups[1] = {"bias", {{"b", b}}, 2.0, 0.0};
  groups[2] = {"frozen", {{"f", frozen}}, 1.0, std::nullopt};
  auto opt = make_optimizer(opts, groups);

  Vec rw = w0, rb = b0;
  std::vector<Vec> sw(w0.size(), Vec(ref.slots, 0.0)), sb(b0.size(), Vec(ref.slots, 0.0));
  for (int s = 0; s < steps; ++s) {
    const double lr = 0.05 / (1 + s);  // a changing schedule value
    Vec gw(w0.size()), gb(b0.size());
    for (std::size_t i = 0; i < gw.size(); ++i) gw[i] = grad_at(s, i, 0);
    for (std::size_t i = 0; i < gb.size(); ++i) gb[i] = grad_at(s, i, 1);
    opt->zero_grad();
    w.mutable_grad() = torch::tensor(gw, torch::kDouble);
    b.mutable_grad() = torch::tensor(gb, torch::kDouble);
    opt->step(lr);
    for (std::size_t i = 0; i < rw.size(); ++i)
      ref.update(rw[i], gw[i] + opts.l2_weight_decay * rw[i], lr, sw[i], s + 1);
    for (std::size_t i = 0; i < rb.size(); ++i) ref.update(rb[i], gb[i], 2 * lr, sb[i], s + 1);
    expect_near(w, rw, tol, "w after step " + std::to_string(s + 1));
    expect_near(b, rb, tol, "b after step " + std::to_string(s + 1));
  }
  EXPECT_EQ(frozen.item<double>(), 7.0);
  for (const auto& [slot, tensors] : opt->state()) {
    ASSERT_EQ(tensors.size(), 2u) << slot;  // no state for the parameter without a gradient
    EXPECT_EQ(tensors[0].first, "w");
    EXPECT_EQ(tensors[1].first, "b");
  }
}

OptimizerOptions momentum_opts(bool nesterov) {
  OptimizerOptions o;
  o.type = "momentum";
  o.momentum = 0.9;
  o.nesterov = nesterov;
  o.l2_weight_decay = 0.1;
  return o;
}

const ScalarRef kMomentumRef{[](double& p, double g, double lr, Vec& st, int) {
                               st[0] = 0.9 * st[0] + g;
                               p -= lr * st[0];
                             },
                             1};
const ScalarRef kNesterovRef{[](double& p, double g, double lr, Vec& st, int) {
                               st[0] = 0.9 * st[0] + g;
                               p -= lr * (g + 0.9 * st[0]);
                             },
                             1};

TEST(Optimizer, MomentumMatchesTheFluidFormulaByHand) {
  run_against_reference(momentum_opts(false), kMomentumRef, 5, 1e-12);
}

TEST(Optimizer, NesterovMomentumMatchesTheFluidFormulaByHand) {
  run_against_reference(momentum_opts(true), kNesterovRef, 5, 1e-12);
}

TEST(Optimizer, AdamMatchesTheFluidFormulaByHand) {
  OptimizerOptions o;
  o.type = "adam";
  o.beta1 = 0.8;
  o.beta2 = 0.95;
  o.epsilon = 1e-3;  // large enough that its placement matters
  o.l2_weight_decay = 0.01;
  const ScalarRef ref{[](double& p, double g, double lr, Vec& st, int t) {
                        st[0] = 0.8 * st[0] + 0.2 * g;
                        st[1] = 0.95 * st[1] + 0.05 * g * g;
                        const double lr_t =
                            lr * std::sqrt(1 - std::pow(0.95, t)) / (1 - std::pow(0.8, t));
                        p -= lr_t * st[0] / (std::sqrt(st[1]) + 1e-3);
                      },
                      2};
  run_against_reference(o, ref, 6, 1e-12);
}

TEST(Optimizer, CenteredRmsPropWithMomentumMatchesTheFluidFormulaByHand) {
  OptimizerOptions o;
  o.type = "rmsprop";
  o.rho = 0.9;
  o.rms_epsilon = 1e-6;
  o.rms_momentum = 0.5;
  o.centered = true;
  o.l2_weight_decay = 8e-4;
  const ScalarRef ref{[](double& p, double g, double lr, Vec& st, int) {
                        double &mom = st[0], &ms = st[1], &mg = st[2];
                        ms = 0.9 * ms + 0.1 * g * g;
                        mg = 0.9 * mg + 0.1 * g;
                        mom = 0.5 * mom + lr * g / std::sqrt(ms - mg * mg + 1e-6);
                        p -= mom;
                      },
                      3};
  run_against_reference(o, ref, 6, 1e-11);
}

TEST(Optimizer, PlainRmsPropMatchesTheFluidFormulaByHand) {
  OptimizerOptions o;
  o.type = "rmsprop";
  o.centered = false;
  o.rms_momentum = 0.3;
  const ScalarRef ref{[](double& p, double g, double lr, Vec& st, int) {
                        st[1] = 0.95 * st[1] + 0.05 * g * g;
                        st[0] = 0.3 * st[0] + lr * g / std::sqrt(st[1] + 1e-6);
                        p -= st[0];
                      },
                      2};
  run_against_reference(o, ref, 4, 1e-11);
  auto p = dparam({1.0});
  auto opt = make_optimizer(o, {{"g", {{"p", p}}, 1.0, std::nullopt}});
  p.mutable_grad() = torch::ones({1}, torch::kDouble);
  opt->step(0.1);
  const auto st = opt->state();
  EXPECT_EQ(st.size(), 2u);  // no mean_grad slot when not centered
  EXPECT_EQ(st.count("mean_grad"), 0u);
}

TEST(Optimizer, FloatParametersUpdateInFloat) {
  auto p = torch::tensor({1.0f, -2.0f}).requires_grad_(true);
  OptimizerOptions o;
  o.type = "adam";
  auto opt = make_optimizer(o, {{"default", {{"p", p}}, 1.0, std::nullopt}});
  p.mutable_grad() = torch::tensor({0.5f, -0.25f});
  opt->step(0.1);
  EXPECT_EQ(p.scalar_type(), torch::kFloat);
  for (const auto& [slot, t] : opt->state()) EXPECT_EQ(t[0].second.scalar_type(), torch::kFloat);
  // First Adam step: lr_t = lr*sqrt(1-b2)/(1-b1), m = 0.1 g, sqrt(v) = sqrt(0.001)|g|
  // -> p -= lr * sign(g) * (1 - 1e-8 / (sqrt(v)+eps)) ~ lr * sign(g).
  EXPECT_NEAR(p[0].item<float>(), 0.9f, 1e-5);
  EXPECT_NEAR(p[1].item<float>(), -1.9f, 1e-5);
}

TEST(Optimizer, AdamPowAccumulatorsFollowFluid) {
  auto p = dparam({1.0, 2.0});
  OptimizerOptions o;
  o.type = "adam";
  auto opt = make_optimizer(o, {{"default", {{"p", p}}, 1.0, std::nullopt}});
  for (int t = 1; t <= 3; ++t) {
    p.mutable_grad() = torch::ones({2}, torch::kDouble);
    opt->step(0.01);
    const auto st = opt->state();
    // After t steps the accumulators hold beta^(t+1), the power the next step uses.
    EXPECT_EQ(st.at("beta1_pow_acc")[0].second.sizes(), c10::IntArrayRef({1}));
    EXPECT_NEAR(st.at("beta1_pow_acc")[0].second.item<double>(), std::pow(0.9, t + 1), 1e-15);
    EXPECT_NEAR(st.at("beta2_pow_acc")[0].second.item<double>(), std::pow(0.999, t + 1), 1e-15);
  }
}

/// Runs the same loss on a parameter under our optimizer and a torch.optim one.
template <typename TorchOpt>
double max_diff_vs_torch(const OptimizerOptions& ours_opts, TorchOpt make_ref, int steps,
                         double lr) {
  torch::manual_seed(0);
  auto a = torch::randn({5, 3}, torch::kDouble).requires_grad_(true);
  auto b = a.detach().clone().requires_grad_(true);
  auto ours = make_optimizer(ours_opts, {{"default", {{"a", a}}, 1.0, std::nullopt}});
  auto ref = make_ref(b);
  for (int i = 0; i < steps; ++i) {
    auto x = torch::randn({3}, torch::kDouble);
    ours->zero_grad();
    ref->zero_grad();
    a.matmul(x).pow(2).sum().backward();
    b.matmul(x).pow(2).sum().backward();
    ours->step(lr);
    ref->step();
  }
  return (a - b).abs().max().item<double>();
}

TEST(Optimizer, MomentumEqualsTorchSgdWithoutDampening) {
  for (bool nesterov : {false, true}) {
    OptimizerOptions o = momentum_opts(nesterov);
    o.l2_weight_decay = 1e-4;
    const double d = max_diff_vs_torch(
        o,
        [&](torch::Tensor b) {
          return std::make_unique<torch::optim::SGD>(
              std::vector<torch::Tensor>{b},
              torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-4).nesterov(nesterov));
        },
        6, 0.05);
    EXPECT_LT(d, 1e-12) << "nesterov " << nesterov;
  }
}

// The momentum update runs as one pass per element on dense float / double tensors (and as
// ATen ops otherwise): both give the Fluid formula on a tensor large enough to be split between
// threads, with a non-contiguous gradient taking the ATen path.
TEST(Optimizer, MomentumOnePassKernelMatchesTheOpSequence) {
  for (bool nesterov : {false, true}) {
    for (bool contiguous_grad : {true, false}) {
      OptimizerOptions o = momentum_opts(nesterov);
      o.l2_weight_decay = 1e-4;
      torch::manual_seed(7);
      const torch::Tensor p0 = torch::randn({300, 1000});
      auto p = p0.clone().requires_grad_(true);
      auto opt = make_optimizer(o, {{"default", {{"p", p}}, 1.0, std::nullopt}});
      torch::Tensor v = torch::zeros_like(p0), ref = p0.clone();
      for (int s = 0; s < 3; ++s) {
        const torch::Tensor g = torch::randn({300, 1000});
        opt->zero_grad();
        p.mutable_grad() =
            contiguous_grad ? g.clone() : torch::empty_strided({300, 1000}, {1, 300}).copy_(g);
        const double lr = 0.1 / (1 + s);
        opt->step(lr);
        const torch::Tensor gd = g + 1e-4 * ref;
        v = 0.9 * v + gd;
        ref = ref - lr * (nesterov ? gd + 0.9 * v : v);
        EXPECT_TRUE(torch::allclose(p.detach(), ref, 1e-5, 1e-6))
            << "nesterov " << nesterov << " contiguous " << contiguous_grad << " step " << s
            << ": max diff " << (p.detach() - ref).abs().max().item<double>();
      }
      EXPECT_TRUE(torch::allclose(opt->state().at("velocity")[0].second, v, 1e-5, 1e-6));
    }
  }
}

// Channels-last parameters (TRAIN.channels_last): the same updates, whether the gradient comes in
// the parameter's layout (the one-pass kernel) or not (the op sequence), and the velocity kept in
// the parameter's layout, also when loaded from a checkpoint's contiguous tensors.
TEST(Optimizer, MomentumOnChannelsLastParameters) {
  const auto cl = torch::MemoryFormat::ChannelsLast;
  for (bool grad_channels_last : {true, false}) {
    OptimizerOptions o = momentum_opts(/*nesterov=*/false);
    o.l2_weight_decay = 1e-4;
    torch::manual_seed(3);
    const torch::Tensor p0 = torch::randn({64, 32, 3, 3});
    auto p = p0.contiguous(cl).requires_grad_(true);
    ASSERT_FALSE(p.is_contiguous());
    auto opt = make_optimizer(o, {{"default", {{"w", p}}, 1.0, std::nullopt}});
    torch::Tensor v = torch::zeros_like(p0), ref = p0.clone();
    for (int s = 0; s < 3; ++s) {
      const torch::Tensor g = torch::randn({64, 32, 3, 3});
      opt->zero_grad();
      p.mutable_grad() = grad_channels_last ? g.contiguous(cl) : g.clone();
      opt->step(0.1);
      const torch::Tensor gd = g + 1e-4 * ref;
      v = 0.9 * v + gd;
      ref = ref - 0.1 * v;
      EXPECT_TRUE(torch::allclose(p.detach(), ref, 1e-5, 1e-6))
          << "gradient channels-last " << grad_channels_last << " step " << s;
    }
    EXPECT_TRUE(p.is_contiguous(cl));
    const torch::Tensor vel = opt->state().at("velocity")[0].second;
    EXPECT_TRUE(vel.is_contiguous(cl));
    EXPECT_TRUE(torch::allclose(vel, v, 1e-5, 1e-6));
    // A resumed run: the checkpoint holds contiguous tensors.
    auto opt2 = make_optimizer(o, {{"default", {{"w", p}}, 1.0, std::nullopt}});
    OptimizerState st;
    st["velocity"].emplace_back("w", v.contiguous());
    opt2->load_state(st, "test");
    const torch::Tensor loaded = opt2->state().at("velocity")[0].second;
    EXPECT_TRUE(loaded.is_contiguous(cl));
    EXPECT_TRUE(torch::equal(loaded, v));
    EXPECT_NE(loaded.data_ptr(), v.data_ptr());  // not aliased
  }
}

TEST(Optimizer, AdamDiffersFromTorchAdamOnlyInWhereEpsilonGoes) {
  auto torch_adam = [](double eps) {
    return [eps](torch::Tensor b) {
      return std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{b},
                                                  torch::optim::AdamOptions(0.01).eps(eps));
    };
  };
  OptimizerOptions o;
  o.type = "adam";
  // eps = 0: both are lr * m_hat / sqrt(v_hat).
  o.epsilon = 0.0;
  EXPECT_LT(max_diff_vs_torch(o, torch_adam(0.0), 5, 0.01), 1e-12);
  // eps > 0: Fluid adds eps to sqrt(v), torch to sqrt(v / (1 - beta2^t)); visibly different.
  o.epsilon = 1e-1;
  EXPECT_GT(max_diff_vs_torch(o, torch_adam(1e-1), 5, 0.01), 1e-4);
}

OptimizerState clone_state(const OptimizerState& s) {
  OptimizerState out;
  for (const auto& [slot, ts] : s)
    for (const auto& [n, t] : ts) out[slot].emplace_back(n, t.clone());
  return out;
}

TEST(Optimizer, StateRoundTripContinuesIdentically) {
  for (const std::string type : {"momentum", "adam", "rmsprop"}) {
    OptimizerOptions o;
    o.type = type;
    o.rms_momentum = 0.5;
    o.l2_weight_decay = 1e-3;
    torch::manual_seed(1);
    auto w = torch::randn({3, 2}).requires_grad_(true);
    auto b = torch::randn({2}).requires_grad_(true);
    auto make = [&](torch::Tensor w_, torch::Tensor b_) {
      return make_optimizer(
          o, {{"default", {{"w", w_}}, 1.0, std::nullopt}, {"bias", {{"b", b_}}, 2.0, 0.0}});
    };
    auto a = make(w, b);
    auto grads = [](int s) {
      return std::make_pair(torch::full({3, 2}, 0.1 * s + 0.3f), torch::full({2}, -0.2 * s));
    };
    for (int s = 0; s < 2; ++s) {
      std::tie(w.mutable_grad(), b.mutable_grad()) = grads(s);
      a->step(0.01);
    }
    // A fresh optimizer over copies of the parameters, restored from a's state.
    auto w2 = w.detach().clone().requires_grad_(true);
    auto b2 = b.detach().clone().requires_grad_(true);
    auto c = make(w2, b2);
    c->load_state(clone_state(a->state()), "ckpt.pt");
    for (int s = 2; s < 5; ++s) {
      std::tie(w.mutable_grad(), b.mutable_grad()) = grads(s);
      std::tie(w2.mutable_grad(), b2.mutable_grad()) = grads(s);
      a->step(0.01);
      c->step(0.01);
    }
    EXPECT_TRUE(torch::equal(w, w2)) << type;
    EXPECT_TRUE(torch::equal(b, b2)) << type;
    const auto sa = a->state(), sc = c->state();
    ASSERT_EQ(sa.size(), sc.size());
    for (const auto& [slot, ts] : sa)
      for (std::size_t i = 0; i < ts.size(); ++i)
        EXPECT_TRUE(torch::equal(ts[i].second, sc.at(slot)[i].second)) << type << " " << slot;
  }
}

std::string load_error(vc::app::Optimizer& opt, const OptimizerState& s) {
  try {
    opt.load_state(s, "run/ckpt_3.pt");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Optimizer, LoadStateErrorsNameSourceSlotParameterAndShapes) {
  auto p = torch::zeros({2, 3}).requires_grad_(true);
  OptimizerOptions o;
  o.type = "adam";
  auto opt = make_optimizer(o, {{"default", {{"fc.w", p}}, 1.0, std::nullopt}});
  auto good = [] {
    return OptimizerState{{"moment1", {{"fc.w", torch::zeros({2, 3})}}},
                          {"moment2", {{"fc.w", torch::zeros({2, 3})}}},
                          {"beta1_pow_acc", {{"fc.w", torch::full({1}, 0.81)}}},
                          {"beta2_pow_acc", {{"fc.w", torch::full({1}, 0.998)}}}};
  };
  std::string e;
  auto s = good();
  s["moment1"][0].first = "fc.nope";
  e = load_error(*opt, s);
  EXPECT_NE(e.find("run/ckpt_3.pt"), std::string::npos) << e;
  EXPECT_NE(e.find("moment1"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown parameter 'fc.nope'"), std::string::npos) << e;

  s = good();
  s["moment2"][0].second = torch::zeros({3, 2});
  e = load_error(*opt, s);
  EXPECT_NE(e.find("moment2"), std::string::npos) << e;
  EXPECT_NE(e.find("fc.w"), std::string::npos) << e;
  EXPECT_NE(e.find("expected shape [2, 3], got [3, 2]"), std::string::npos) << e;

  s = good();
  s["beta1_pow_acc"][0].second = torch::zeros({2, 3});
  e = load_error(*opt, s);
  EXPECT_NE(e.find("expected shape [1], got [2, 3]"), std::string::npos) << e;

  s = good();
  s["velocity"] = {{"fc.w", torch::zeros({2, 3})}};
  e = load_error(*opt, s);
  EXPECT_NE(e.find("unknown slot 'velocity'"), std::string::npos) << e;
  EXPECT_NE(e.find("moment1"), std::string::npos) << e;  // lists the known slots

  s = good();
  s.erase("moment2");
  e = load_error(*opt, s);
  EXPECT_NE(e.find("'fc.w'"), std::string::npos) << e;
  EXPECT_NE(e.find("moment2"), std::string::npos) << e;

  // A failed load leaves the optimizer as it was (still no state); a good one loads.
  EXPECT_TRUE(opt->state().at("moment1").empty());
  opt->load_state(good(), "ok.pt");
  EXPECT_NEAR(opt->state().at("beta1_pow_acc")[0].second.item<float>(), 0.81f, 1e-7);
}

TEST(Optimizer, LoadStateCastsToTheParameterDtype) {
  auto p = torch::zeros({2}).requires_grad_(true);
  auto opt = make_optimizer(OptimizerOptions{}, {{"default", {{"w", p}}, 1.0, std::nullopt}});
  opt->load_state({{"velocity", {{"w", torch::ones({2}, torch::kDouble)}}}}, "ck.pt");
  p.mutable_grad() = torch::zeros({2});
  opt->step(1.0);  // v = 0.9 * 1 + 0 -> p = -0.9
  EXPECT_NEAR(p[0].item<float>(), -0.9f, 1e-6);
  EXPECT_EQ(opt->state().at("velocity")[0].second.scalar_type(), torch::kFloat);
}

std::string make_error(const OptimizerOptions& o, std::vector<ParamGroup> groups) {
  try {
    make_optimizer(o, std::move(groups));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Optimizer, MakeOptimizerValidates) {
  auto p = torch::zeros({2}).requires_grad_(true), q = torch::zeros({1}).requires_grad_(true);
  const std::vector<ParamGroup> ok = {{"default", {{"p", p}}, 1.0, std::nullopt}};
  OptimizerOptions o;
  o.type = "sgd";
  EXPECT_NE(make_error(o, ok).find("unknown type 'sgd'"), std::string::npos);
  o = {};
  o.type = "adam";
  o.beta1 = 1.0;
  EXPECT_NE(make_error(o, ok).find("beta1 = 1"), std::string::npos);
  o = {};
  o.type = "adam";
  o.nesterov = true;
  EXPECT_NE(make_error(o, ok).find("nesterov"), std::string::npos);
  o = {};
  o.l2_weight_decay = -1;
  EXPECT_NE(make_error(o, ok).find("l2_weight_decay = -1"), std::string::npos);
  o = {};
  o.type = "rmsprop";
  o.rms_epsilon = 0;
  EXPECT_NE(make_error(o, ok).find("rms_epsilon = 0"), std::string::npos);
  o = {};
  std::string e =
      make_error(o, {{"a", {{"p", p}}, 1.0, std::nullopt}, {"b", {{"p", q}}, 2.0, 0.0}});
  EXPECT_NE(e.find("'p' is in group 'a' and again in group 'b'"), std::string::npos) << e;
  e = make_error(o, {{"a", {{"p", p}}, 1.0, std::nullopt}, {"b", {{"p2", p}}, 2.0, 0.0}});
  EXPECT_NE(e.find("same tensor"), std::string::npos) << e;
  e = make_error(o, {{"a", {{"p", p}}, -2.0, std::nullopt}});
  EXPECT_NE(e.find("group 'a' lr_mult = -2"), std::string::npos) << e;
  e = make_error(o, {{"a", {{"p", p}}, 1.0, -0.5}});
  EXPECT_NE(e.find("group 'a' weight_decay = -0.5"), std::string::npos) << e;
  e = make_error(o, {{"a", {{"p", torch::Tensor()}}, 1.0, std::nullopt}});
  EXPECT_NE(e.find("undefined"), std::string::npos) << e;
  EXPECT_EQ(make_error(o, ok), "(no error)");
  auto opt = make_optimizer(o, ok);
  EXPECT_THROW(opt->step(-0.1), std::invalid_argument);
  EXPECT_THROW(opt->step(std::nan("")), std::invalid_argument);
}

TEST(Optimizer, DescribeAndZeroGrad) {
  auto w = torch::zeros({4, 5}).requires_grad_(true), b = torch::zeros({5}).requires_grad_(true);
  OptimizerOptions o;
  o.nesterov = true;
  o.l2_weight_decay = 1e-4;
  auto opt = make_optimizer(
      o, {{"default", {{"w", w}}, 1.0, std::nullopt}, {"fc_bias", {{"b", b}}, 2.0, 0.0}});
  const std::string d = opt->describe();
  EXPECT_NE(d.find("momentum (mu 0.9, nesterov)"), std::string::npos) << d;
  EXPECT_NE(d.find("default (1 tensors, 20 values, lr x1, L2 0.0001 (global))"), std::string::npos)
      << d;
  EXPECT_NE(d.find("fc_bias (1 tensors, 5 values, lr x2, L2 0)"), std::string::npos) << d;
  w.sum().backward();
  EXPECT_TRUE(w.grad().defined());
  opt->zero_grad();
  EXPECT_EQ(w.grad().abs().sum().item<float>(), 0.0f);
  EXPECT_FALSE(b.grad().defined());
}

// ---------------------------------------------------------------------------------------------
// LR schedules

LrScheduleOptions piecewise(std::vector<int64_t> bd, std::vector<double> values = {},
                            double base = 0.01) {
  LrScheduleOptions o;
  o.policy = "piecewise";
  o.base_lr = base;
  o.boundaries = std::move(bd);
  o.values = std::move(values);
  return o;
}

TEST(LrSchedule, PiecewiseStepAtABoundaryTakesTheNextValue) {
  LrSchedule s(piecewise({10, 20}, {3.0, 2.0, 1.0}));
  EXPECT_EQ(s.at(0), 3.0);
  EXPECT_EQ(s.at(9), 3.0);
  EXPECT_EQ(s.at(10), 2.0);
  EXPECT_EQ(s.at(19), 2.0);
  EXPECT_EQ(s.at(20), 1.0);
  EXPECT_EQ(s.at(1000000), 1.0);
  EXPECT_THROW(s.at(-1), std::invalid_argument);
  EXPECT_EQ(s.describe(), "lr piecewise: 3 until iteration 10, 2 until 20, then 1");
}

TEST(LrSchedule, PiecewiseValuesDefaultToBaseTimesDecayPowers) {
  auto o = piecewise({5}, {}, 0.001);
  LrSchedule s(o);
  EXPECT_EQ(s.options().values.size(), 2u);
  EXPECT_DOUBLE_EQ(s.at(4), 0.001);
  EXPECT_DOUBLE_EQ(s.at(5), 0.001 * 0.1);
  LrSchedule none(piecewise({}, {}, 0.5));
  EXPECT_EQ(none.at(123456), 0.5);
}

TEST(LrSchedule, ConstantAndExponential) {
  LrScheduleOptions c;
  c.policy = "constant";
  c.base_lr = 1e-3;  // Attention Cluster: Adam 1e-3, constant (spec §6.1)
  LrSchedule cs(c);
  EXPECT_EQ(cs.at(0), 1e-3);
  EXPECT_EQ(cs.at(999999), 1e-3);
  EXPECT_EQ(cs.describe(), "lr constant: 0.001");

  LrScheduleOptions e;
  e.policy = "exponential";
  e.base_lr = 2.0;
  e.decay = 0.5;
  e.decay_steps = 10;
  LrSchedule st(e);
  EXPECT_EQ(st.at(0), 2.0);
  EXPECT_EQ(st.at(9), 2.0);
  EXPECT_EQ(st.at(10), 1.0);
  EXPECT_EQ(st.at(25), 0.5);
  e.staircase = false;
  LrSchedule smooth(e);
  EXPECT_DOUBLE_EQ(smooth.at(5), 2.0 * std::pow(0.5, 0.5));
  EXPECT_DOUBLE_EQ(smooth.at(25), 2.0 * std::pow(0.5, 2.5));
}

TEST(LrSchedule, LinearWarmupToTheScheduledValue) {
  auto o = piecewise({100}, {1.0, 0.1}, 1.0);
  o.warmup_steps = 10;
  o.warmup_start_factor = 0.1;
  LrSchedule s(o);
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.at(5), 0.55);
  EXPECT_DOUBLE_EQ(s.at(9), 0.1 + 0.9 * 0.9);
  EXPECT_DOUBLE_EQ(s.at(10), 1.0);
  EXPECT_DOUBLE_EQ(s.at(100), 0.1);
  EXPECT_NE(s.describe().find("linear warmup from 0.1 over 10 iterations"), std::string::npos);
  // A boundary inside the warmup: the ramp ends at the value scheduled for step warmup_steps.
  o.boundaries = {4};
  LrSchedule early(o);
  EXPECT_DOUBLE_EQ(early.at(0), 0.1);
  EXPECT_DOUBLE_EQ(early.at(5), 0.1);
  EXPECT_DOUBLE_EQ(early.at(10), 0.1);
}

std::string schedule_error(const LrScheduleOptions& o) {
  try {
    LrSchedule s(o);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(LrSchedule, ValidationNamesFieldAndValue) {
  LrScheduleOptions o;
  o.policy = "cosine";
  EXPECT_NE(schedule_error(o).find("unknown policy 'cosine'"), std::string::npos);
  EXPECT_NE(schedule_error(piecewise({10, 10})).find("boundaries[1] = 10"), std::string::npos);
  EXPECT_NE(schedule_error(piecewise({-1})).find("boundaries[0] = -1"), std::string::npos);
  EXPECT_NE(schedule_error(piecewise({10}, {1.0})).find("values = 1 items"), std::string::npos);
  EXPECT_NE(schedule_error(piecewise({10}, {1.0, -1.0})).find("values[1] = -1"), std::string::npos);
  o = piecewise({10});
  o.base_lr = -0.1;
  EXPECT_NE(schedule_error(o).find("base_lr = -0.1"), std::string::npos);
  o = piecewise({10});
  o.decay = 0;
  EXPECT_NE(schedule_error(o).find("decay = 0"), std::string::npos);
  o = {};
  o.policy = "exponential";
  o.decay_steps = 0;
  EXPECT_NE(schedule_error(o).find("decay_steps = 0"), std::string::npos);
  o = piecewise({10});
  o.policy = "constant";
  EXPECT_NE(schedule_error(o).find("boundaries"), std::string::npos);
  o = piecewise({10});
  o.warmup_steps = -5;
  EXPECT_NE(schedule_error(o).find("warmup_steps = -5"), std::string::npos);
}

// The networks' schedules with the numbers of spec §6.

TEST(LrSchedule, TsnRuleFromTheOriginalConfig) {
  // step = int(224684 / 256 + 1) = 878; boundaries [45/3 * 878, 2*45/3 * 878] (spec §6.5).
  const int64_t step = vc::app::iterations_per_epoch_plus_one(224684, 256);
  EXPECT_EQ(step, 878);
  EXPECT_EQ(vc::app::tsn_default_decay_epochs(45), (std::vector<int64_t>{15, 30}));
  const auto bd = vc::app::epochs_to_iterations(vc::app::tsn_default_decay_epochs(45), step);
  EXPECT_EQ(bd, (std::vector<int64_t>{13170, 26340}));
  auto o = piecewise(bd);
  LrSchedule s(o);
  EXPECT_DOUBLE_EQ(s.at(13169), 0.01);
  EXPECT_NEAR(s.at(13170), 0.001, 1e-15);
  EXPECT_NEAR(s.at(26340), 0.0001, 1e-15);
}

TEST(LrSchedule, StNetAndTsmBoundaries) {
  // StNet: int(224684/128 + 1) = 1756, epochs 60 -> [20, 40] -> [35120, 70240] (spec §6.7).
  EXPECT_EQ(vc::app::epochs_to_iterations(vc::app::tsn_default_decay_epochs(60),
                                          vc::app::iterations_per_epoch_plus_one(224684, 128)),
            (std::vector<int64_t>{35120, 70240}));
  // TSM: int(239781/128 + 1) = 1874, decay epochs [40, 60] -> [74960, 112440] (spec §6.6).
  EXPECT_EQ(
      vc::app::epochs_to_iterations({40, 60}, vc::app::iterations_per_epoch_plus_one(239781, 128)),
      (std::vector<int64_t>{74960, 112440}));
  // An exact multiple still adds one: int(100/10 + 1) = 11.
  EXPECT_EQ(vc::app::iterations_per_epoch_plus_one(100, 10), 11);
  EXPECT_THROW(vc::app::epochs_to_iterations({1}, 0), std::invalid_argument);
  EXPECT_THROW(vc::app::iterations_per_epoch_plus_one(100, 0), std::invalid_argument);
}

TEST(LrSchedule, NonLocalBoundariesByIteration) {
  const auto bd = vc::app::cumulative_boundaries({150000, 150000, 100000});
  EXPECT_EQ(bd, (std::vector<int64_t>{150000, 300000, 400000}));
  LrSchedule s(piecewise(bd));
  EXPECT_DOUBLE_EQ(s.at(149999), 0.01);
  EXPECT_NEAR(s.at(150000), 0.001, 1e-16);
  EXPECT_NEAR(s.at(300000), 0.0001, 1e-17);
  EXPECT_NEAR(s.at(400000), 0.00001, 1e-18);
}

TEST(LrSchedule, AttentionLstmBoundaryUsesIntegerIterationsPerEpoch) {
  // iter_per_epoch = 5000000 / 1024 = 4882 (Python 2), boundary 5 * 4882 = 24410 (spec §6.2),
  // not 5 * 5000000 / 1024 = 24414.
  const int64_t ipe = vc::app::iterations_per_epoch_floor(5000000, 1024);
  EXPECT_EQ(ipe, 4882);
  const auto bd = vc::app::epochs_to_iterations({5}, ipe);
  EXPECT_EQ(bd, (std::vector<int64_t>{24410}));
  LrSchedule s(piecewise(bd, {}, 0.001));
  EXPECT_DOUBLE_EQ(s.at(24409), 0.001);
  EXPECT_NEAR(s.at(24410), 0.0001, 1e-18);
}

TEST(LrSchedule, NextVladPiecewiseEvery12500Iterations) {
  // decay_step = 2000000 // 160 = 12500; boundaries 12500 .. 687500 (< max_iter 700000): 55.
  const auto bd = vc::app::boundaries_every(2000000 / 160, 700000);
  ASSERT_EQ(bd.size(), 55u);
  EXPECT_EQ(bd.front(), 12500);
  EXPECT_EQ(bd.back(), 687500);
  auto o = piecewise(bd, {}, 2e-4);
  o.decay = 0.8;
  LrSchedule s(o);
  LrScheduleOptions e;
  e.policy = "exponential";
  e.base_lr = 2e-4;
  e.decay = 0.8;
  e.decay_steps = 12500;
  LrSchedule ex(e);
  // Equal to the staircase exponential below max_iter, frozen at 0.8^55 after it.
  for (int64_t step : {0L, 12499L, 12500L, 300000L, 687499L, 687500L, 699999L})
    EXPECT_NEAR(s.at(step), ex.at(step), 1e-18) << step;
  EXPECT_NEAR(s.at(700000), 2e-4 * std::pow(0.8, 55), 1e-18);
  EXPECT_LT(ex.at(700000), s.at(700000));
  EXPECT_EQ(vc::app::boundaries_every(10, 10), std::vector<int64_t>{});
  const std::string d = s.describe();
  EXPECT_NE(d.find("... (50 more)"), std::string::npos) << d;
  EXPECT_NE(d.find("until 687500"), std::string::npos) << d;
}

}  // namespace
