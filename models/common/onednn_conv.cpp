#include "models/common/onednn_conv.h"

#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/custom_class.h>
#include <torch/torch.h>

#include <mutex>
#include <sstream>
#include <stdexcept>
#include <unordered_set>
#include <vector>

#ifdef VC_ONEDNN_CONV
#include <ideep.hpp>

// LibTorch keeps a MKLDNN-layout tensor as an ideep::tensor (a dnnl::memory); these two
// accessors are exported by libtorch_cpu (ATen/native/mkldnn/MKLDNNCommon.h, not installed).
namespace at::native {
ideep::tensor& itensor_from_mkldnn(const at::Tensor& mkldnn_tensor);
at::Tensor new_with_itensor_mkldnn(ideep::tensor&& it, c10::optional<c10::ScalarType> dtype,
                                   c10::optional<c10::Device> device);
}  // namespace at::native
#endif

namespace vc::models {

#ifdef VC_ONEDNN_CONV
namespace {

using dnnl::memory;
using Md = dnnl::memory::desc;

// The storage of a MKLDNN-layout tensor (LibTorch hands it out below autograd only).
// (a dnnl::memory is a reference-counted handle: the copy shares the buffer).
memory memory_of(const torch::Tensor& t) {
  const at::AutoDispatchBelowADInplaceOrView below_autograd;
  return at::native::itensor_from_mkldnn(t);
}

const dnnl::engine& engine() { return ideep::engine::cpu_engine(); }

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

// A 5-D [N, C, T, H, W] layout whose H and W are dense within each other (plain ncdhw, or one
// channel block: nCdhw16c / nCdhw8c) seen as the 4-D [N, C, T, H*W] over the same memory;
// nullopt when the layout does not allow it.
c10::optional<Md> merge_hw(const Md& md5) {
  dnnl_memory_desc_t d = md5.data;
  const auto& b = d.format_desc.blocking;
  if (d.ndims != 5 || d.format_kind != dnnl_blocked || b.inner_nblks > 1 ||
      (b.inner_nblks == 1 && b.inner_idxs[0] != 1) || d.padded_dims[3] != d.dims[3] ||
      d.padded_dims[4] != d.dims[4] || d.padded_offsets[3] != 0 || d.padded_offsets[4] != 0 ||
      b.strides[3] != d.dims[4] * b.strides[4] ||
      b.strides[4] != (b.inner_nblks == 1 ? b.inner_blks[0] : 1)) {
    return c10::nullopt;
  }
  d.ndims = 4;
  d.dims[3] = d.dims[3] * d.dims[4];
  d.padded_dims[3] = d.dims[3];
  d.format_desc.blocking.strides[3] = b.strides[4];
  d.dims[4] = d.padded_dims[4] = d.padded_offsets[4] = d.format_desc.blocking.strides[4] = 0;
  return Md(d);
}

// The inverse: a 4-D [N, C, T, H*W] layout (dense last dim) as the 5-D [N, C, T, H, W].
c10::optional<Md> split_hw(const Md& md4, int64_t h, int64_t w) {
  dnnl_memory_desc_t d = md4.data;
  const auto& b = d.format_desc.blocking;
  if (d.ndims != 4 || d.format_kind != dnnl_blocked || d.dims[3] != h * w ||
      d.padded_dims[3] != d.dims[3] || d.padded_offsets[3] != 0 || b.inner_nblks > 1 ||
      (b.inner_nblks == 1 && b.inner_idxs[0] != 1)) {
    return c10::nullopt;
  }
  const int64_t s3 = b.strides[3];
  d.ndims = 5;
  d.dims[3] = d.padded_dims[3] = h;
  d.dims[4] = d.padded_dims[4] = w;
  d.padded_offsets[4] = 0;
  d.format_desc.blocking.strides[3] = s3 * w;
  d.format_desc.blocking.strides[4] = s3;
  return Md(d);
}

}  // namespace

// One convolution with its constants (weights with BN folded in, bias) and its post-ops; the
// oneDNN primitive and the weights in its layout are made for each input layout on first use.
class OneDnnConv : public torch::CustomClassHolder {
 public:
  OneDnnConv(torch::Tensor weight, torch::Tensor bias, std::vector<int64_t> stride,
             std::vector<int64_t> padding, std::vector<int64_t> dilation, bool relu, bool sum,
             bool winograd, bool temporal = false)
      : weight_(std::move(weight)),
        bias_(std::move(bias)),
        stride_(std::move(stride)),
        padding_(std::move(padding)),
        dilation_(std::move(dilation)),
        relu_(relu),
        sum_(sum),
        winograd_(winograd),
        temporal_(temporal) {}

  // y = conv(x) [+ sum] [then ReLU]; with `in_place` the result is written into `sum` itself.
  torch::Tensor run(const torch::Tensor& x, const torch::Tensor* sum, bool in_place) {
    const int64_t dims = temporal_ ? 5 : 4;
    if (!x.is_mkldnn() || x.dim() != dims || x.scalar_type() != torch::kFloat) {
      std::ostringstream m;
      m << "videocls::onednn_conv expects a " << dims << "-D float MKLDNN-layout input, got "
        << x.sizes() << (x.is_mkldnn() ? "" : " (not MKLDNN layout)");
      throw std::invalid_argument(m.str());
    }
    if ((sum != nullptr) != sum_ || (temporal_ && sum != nullptr)) {
      throw std::logic_error("videocls::onednn_conv: the residual input does not match the op");
    }
    if (temporal_) return run_temporal(x);
    memory xm = memory_of(x);
    const std::shared_ptr<Prim> p = primitive(xm.get_desc());
    dnnl::stream& s = stream();
    memory src = xm;
    if (p->pd.src_desc() != xm.get_desc()) {
      src = memory(p->pd.src_desc(), engine());
      dnnl::reorder(xm, src).execute(s, xm, src);
    }
    const Md dst_md = p->pd.dst_desc();
    if (sum != nullptr) {
      if (!sum->is_mkldnn() || !sum->sizes().equals(dst_sizes(xm.get_desc()))) {
        std::ostringstream m;
        m << "videocls::onednn_conv: the residual " << sum->sizes()
          << " does not match the convolution's output " << dst_sizes(xm.get_desc());
        throw std::invalid_argument(m.str());
      }
    }
    torch::Tensor out;
    const bool into_sum = in_place && memory_of(*sum).get_desc() == dst_md;
    if (into_sum) {
      out = *sum;
    } else {
      out = at::native::new_with_itensor_mkldnn(ideep::tensor(dst_md), torch::kFloat, x.device());
      if (sum != nullptr) {
        memory sm = memory_of(*sum);
        memory om = memory_of(out);
        dnnl::reorder(sm, om).execute(s, sm, om);
      }
    }
    memory dst = memory_of(out);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, p->weights}, {DNNL_ARG_DST, dst}};
    if (bias_.defined()) args.emplace(DNNL_ARG_BIAS, p->bias);
    p->conv.execute(s, args);
    if (in_place && !into_sum) {
      // The residual's layout differs from the output's: copy back, so the op still updates it.
      memory sm = memory_of(*sum);
      dnnl::reorder(dst, sm).execute(s, dst, sm);
      out = *sum;
    }
    s.wait();
    return out;
  }

  // A kt x 1 x 1 convolution over [N, C, T, H, W] (StNet's temporal blocks) is the 2-D kt x 1
  // convolution over [N, C, T, H*W] on the same memory: run as such (oneDNN's 2-D kernels are
  // faster than its 3-D ones here: 174 vs 131 GFLOP/s on StNet's 1024-channel block).
  torch::Tensor run_temporal(const torch::Tensor& x) {
    dnnl::stream& s = stream();
    memory x5 = memory_of(x);
    c10::optional<Md> view = merge_hw(x5.get_desc());
    if (!view) {  // a layout that cannot be merged: plain first
      const auto d = x5.get_desc().dims();
      memory plain(Md(d, memory::data_type::f32, memory::format_tag::ncdhw), engine());
      dnnl::reorder(x5, plain).execute(s, x5, plain);
      x5 = plain;
      view = merge_hw(x5.get_desc());
      if (!view) throw std::logic_error("videocls::onednn_conv: cannot view ncdhw as 4-D");
    }
    memory xm(*view, engine(), x5.get_data_handle());
    const std::shared_ptr<Prim> p = primitive(xm.get_desc());
    memory src = xm;
    if (p->pd.src_desc() != xm.get_desc()) {
      src = memory(p->pd.src_desc(), engine());
      dnnl::reorder(xm, src).execute(s, xm, src);
    }
    const c10::optional<Md> out5 = split_hw(p->pd.dst_desc(), x.size(3), x.size(4));
    if (!out5) throw std::logic_error("videocls::onednn_conv: unexpected output layout");
    torch::Tensor out =
        at::native::new_with_itensor_mkldnn(ideep::tensor(*out5), torch::kFloat, x.device());
    memory dst(p->pd.dst_desc(), engine(), memory_of(out).get_data_handle());
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, p->weights}, {DNNL_ARG_DST, dst}};
    if (bias_.defined()) args.emplace(DNNL_ARG_BIAS, p->bias);
    p->conv.execute(s, args);
    s.wait();
    return out;
  }

  // Whether the primitive made for the last input layout is a Winograd one (false before use).
  bool uses_winograd() {
    const std::lock_guard<std::mutex> lock(mu_);
    return !cache_.empty() && cache_.back()->winograd;
  }

 private:
  struct Prim {
    Md src;
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward conv;
    memory weights;
    memory bias;
    bool winograd = false;
  };

  std::vector<int64_t> dst_sizes(const Md& src) const {
    const auto d = src.dims();
    std::vector<int64_t> out{d[0], weight_.size(0)};
    for (int i = 0; i < 2; ++i) {
      const int64_t k = dilation_[i] * (weight_.size(2 + i) - 1) + 1;
      out.push_back((d[2 + i] + 2 * padding_[i] - k) / stride_[i] + 1);
    }
    return out;
  }

  std::shared_ptr<Prim> primitive(const Md& src) {
    const std::lock_guard<std::mutex> lock(mu_);
    for (const auto& p : cache_) {
      if (p->src == src) return p;
    }
    const auto d = src.dims();
    if (d.size() != 4 || d[1] != weight_.size(1)) {
      std::ostringstream m;
      m << "videocls::onednn_conv: input with " << (d.size() > 1 ? d[1] : 0)
        << " channels for a convolution with " << weight_.size(1);
      throw std::invalid_argument(m.str());
    }
    const memory::dims src_dims(d.begin(), d.end());
    const std::vector<int64_t> out = dst_sizes(src);
    const memory::dims dst_dims(out.begin(), out.end());
    const memory::dims w_dims(weight_.sizes().begin(), weight_.sizes().end());
    const memory::dims strides(stride_.begin(), stride_.end());
    const memory::dims pad(padding_.begin(), padding_.end());
    const memory::dims dil{dilation_[0] - 1, dilation_[1] - 1};  // oneDNN: 0 = none
    const auto f32 = memory::data_type::f32;
    const Md src_any(src_dims, f32, memory::format_tag::any);
    const Md w_any(w_dims, f32, memory::format_tag::any);
    const Md dst_any(dst_dims, f32, memory::format_tag::any);
    const Md b_md = bias_.defined() ? Md({weight_.size(0)}, f32, memory::format_tag::x) : Md();
    dnnl::post_ops po;
    if (sum_) po.append_sum(1.0f);
    if (relu_) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(po);
    // Layouts: oneDNN left to itself ("any") picks channels-last for its direct kernels and
    // the channel-blocked nChw16c for Winograd, so a network would reorder around every
    // Winograd layer, and TSM's shift (onednn_shift.h) would meet layouts it can only copy
    // element by element. So the output is channel-blocked (16, else 8 channels per block, as
    // LibTorch's own oneDNN convolutions choose on these CPUs) wherever the CPU has a
    // non-reference kernel for it, and the input is taken in the layout it comes in when that is
    // such a layout; otherwise oneDNN chooses.
    auto blocked = [&](const memory::dims& dims, int block) {
      return Md(dims, f32, block == 16 ? memory::format_tag::nChw16c : memory::format_tag::nChw8c);
    };
    const bool src_blocked = src.data.format_kind == dnnl_blocked &&
                             src.data.format_desc.blocking.inner_nblks == 1 &&
                             src.data.format_desc.blocking.inner_idxs[0] == 1;
    auto make = [&](dnnl::algorithm alg,
                    const Md& dst_md) -> c10::optional<dnnl::convolution_forward::primitive_desc> {
      try {
        const Md src_md = src_blocked ? src : src_any;
        const dnnl::convolution_forward::desc cd(dnnl::prop_kind::forward_inference, alg, src_md,
                                                 w_any, b_md, dst_md, strides, dil, pad, pad);
        dnnl::convolution_forward::primitive_desc pd(cd, attr, engine());
        const std::string impl = pd.impl_info_str();
        if (impl.find("ref") != std::string::npos) return c10::nullopt;  // reference kernel
        return pd;
      } catch (const dnnl::error&) {
        return c10::nullopt;  // no kernel for this combination
      }
    };
    std::vector<Md> dst_candidates;
    for (const int block : {16, 8}) {
      if (out[1] % block == 0) dst_candidates.push_back(blocked(dst_dims, block));
    }
    dst_candidates.push_back(dst_any);
    auto p = std::make_shared<Prim>();
    p->src = src;
    bool have = false;
    for (const bool wino : {true, false}) {
      if (wino && !winograd_) continue;
      for (const Md& dst_md : dst_candidates) {
        if (auto pd = make(
                wino ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct,
                dst_md)) {
          p->pd = *pd;
          p->winograd = wino;
          have = true;
          break;
        }
      }
      if (have) break;
    }
    if (!have) {
      // Whatever oneDNN has, reference kernels included (still correct).
      const dnnl::convolution_forward::desc cd(dnnl::prop_kind::forward_inference,
                                               dnnl::algorithm::convolution_direct, src_any, w_any,
                                               b_md, dst_any, strides, dil, pad, pad);
      p->pd = dnnl::convolution_forward::primitive_desc(cd, attr, engine());
    }
    p->conv = dnnl::convolution_forward(p->pd);
    dnnl::stream& s = stream();
    memory w_user({w_dims, f32, memory::format_tag::oihw}, engine(), weight_.data_ptr());
    p->weights = memory(p->pd.weights_desc(), engine());
    dnnl::reorder(w_user, p->weights).execute(s, w_user, p->weights);
    if (bias_.defined()) p->bias = memory(b_md, engine(), bias_.data_ptr());
    s.wait();
    cache_.push_back(p);
    return p;
  }

  torch::Tensor weight_;  // dense OIHW float, contiguous
  torch::Tensor bias_;    // dense [O] or undefined
  std::vector<int64_t> stride_, padding_, dilation_;
  bool relu_, sum_, winograd_;
  bool temporal_;  // weight_ is the 2-D [O, I, kt, 1] form of a [O, I, kt, 1, 1] 3-D kernel
  std::mutex mu_;
  std::vector<std::shared_ptr<Prim>> cache_;
};

namespace {

torch::Tensor conv_op(const torch::Tensor& x, const c10::intrusive_ptr<OneDnnConv>& ctx) {
  return ctx->run(x, nullptr, false);
}
torch::Tensor conv_add_op(const torch::Tensor& x, const c10::intrusive_ptr<OneDnnConv>& ctx,
                          const torch::Tensor& sum) {
  return ctx->run(x, &sum, false);
}
torch::Tensor conv_add_inplace_op(const torch::Tensor& x, const c10::intrusive_ptr<OneDnnConv>& ctx,
                                  torch::Tensor& sum) {
  return ctx->run(x, &sum, true);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(videocls, m) {
  m.class_<OneDnnConv>("OneDnnConv");
  m.def("onednn_conv(Tensor x, __torch__.torch.classes.videocls.OneDnnConv ctx) -> Tensor");
  m.def(
      "onednn_conv_add(Tensor x, __torch__.torch.classes.videocls.OneDnnConv ctx, Tensor sum) -> "
      "Tensor");
  m.def(
      "onednn_conv_add_(Tensor x, __torch__.torch.classes.videocls.OneDnnConv ctx, "
      "Tensor(a!) sum) -> Tensor(a!)");
}
TORCH_LIBRARY_IMPL(videocls, MkldnnCPU, m) {
  m.impl("onednn_conv", &conv_op);
  m.impl("onednn_conv_add", &conv_add_op);
  m.impl("onednn_conv_add_", &conv_add_inplace_op);
}

bool onednn_conv_available() { return at::hasMKLDNN(); }

namespace {

using torch::jit::Node;
using torch::jit::Value;

// A convolution and what the pass fuses into it.
struct Plan {
  Node* conv = nullptr;
  Node* relu = nullptr;       // ReLU applied to the convolution or to the residual sum
  Node* broadcast = nullptr;  // prim::BroadcastMKLDNNTensors(conv, shortcut)
  Node* add = nullptr;        // aten::add_ / add of the two
  Value* sum = nullptr;       // the shortcut (as planned: read it from `broadcast` when
                              // rewriting, earlier rewrites may have replaced the value)
  bool in_place = false;
};

bool is_relu(const Node* n) {
  return n->kind() == c10::Symbol::fromQualString("aten::relu_") ||
         n->kind() == c10::Symbol::fromQualString("aten::relu");
}

// A tensor constant of the graph: prim::Constant, or the prim::ConstantMKLDNNTensor that
// LibTorch's pass makes of a conv's weights and bias; undefined for None; nullopt otherwise.
c10::optional<torch::Tensor> constant_tensor(Value* v) {
  static const c10::Symbol kMkldnnConstant =
      c10::Symbol::fromQualString("prim::ConstantMKLDNNTensor");
  if (v->node()->kind() == kMkldnnConstant) {
    if (!v->node()->hasAttribute(c10::attr::value)) return c10::nullopt;
    return v->node()->t(c10::attr::value);
  }
  const c10::optional<c10::IValue> iv = torch::jit::toIValue(v);
  if (!iv) return c10::nullopt;
  if (iv->isNone()) return torch::Tensor();
  if (iv->isTensor()) return iv->toTensor();
  return c10::nullopt;
}

Node* only_user(const Value* v) { return v->uses().size() == 1 ? v->uses()[0].user : nullptr; }

// May the shortcut `s` be overwritten by the fused op placed at `at`? Only if it is not a graph
// input or output and no node from `at` on reads anything that may alias it, other than the
// values the fused op replaces (`chain`).
bool dead_after(torch::jit::AliasDb& db, torch::jit::Graph& g, Value* s, Node* at,
                const std::unordered_set<const Value*>& chain) {
  if (s->node()->kind() == c10::prim::Param || s->node()->owningBlock() != g.block()) return false;
  for (Value* v : g.inputs()) {
    if (db.mayAlias(v, s)) return false;
  }
  for (Node* m = at; m != g.return_node(); m = m->next()) {
    if (!m->blocks().empty()) return false;
    for (Value* v : m->inputs()) {
      if (chain.count(v) == 0 && v->type()->kind() != c10::TypeKind::NoneType &&
          db.mayAlias(v, s)) {
        return false;
      }
    }
  }
  for (Value* v : g.outputs()) {
    if (chain.count(v) == 0 && db.mayAlias(v, s)) return false;
  }
  return true;
}

}  // namespace

OneDnnConvCounts fuse_onednn_convolutions(const std::shared_ptr<torch::jit::Graph>& graph,
                                          const OneDnnConvOptions& options) {
  OneDnnConvCounts counts;
  if (!onednn_conv_available()) return counts;
  static const c10::Symbol kConv = c10::Symbol::fromQualString("prim::mkldnn_convolution");
  static const c10::Symbol kBroadcast = c10::Symbol::fromQualString("prim::BroadcastMKLDNNTensors");
  static const c10::Symbol kAdd_ = c10::Symbol::fromQualString("aten::add_");
  static const c10::Symbol kAdd = c10::Symbol::fromQualString("aten::add");
  static const c10::Symbol kOp = c10::Symbol::fromQualString("videocls::onednn_conv");
  static const c10::Symbol kOpAdd = c10::Symbol::fromQualString("videocls::onednn_conv_add");
  static const c10::Symbol kOpAdd_ = c10::Symbol::fromQualString("videocls::onednn_conv_add_");

  // 1. Plans, on the untouched graph (the alias analysis sees LibTorch's own ops only).
  std::vector<Plan> plans;
  {
    torch::jit::AliasDb db(graph);
    for (Node* n : graph->block()->nodes()) {
      if (n->kind() != kConv || n->inputs().size() != 7) continue;
      Plan p;
      p.conv = n;
      Value* y = n->output();
      Node* u = options.fuse ? only_user(y) : nullptr;
      if (u != nullptr && is_relu(u) && u->input(0) == y) {
        p.relu = u;
      } else if (u != nullptr && u->kind() == kBroadcast && u->inputs().size() == 2 &&
                 u->outputs().size() == 2 && u->input(0) != u->input(1)) {
        Node* a = only_user(u->output(0));
        const c10::optional<c10::IValue> alpha = a != nullptr && a->inputs().size() == 3
                                                     ? torch::jit::toIValue(a->input(2))
                                                     : c10::nullopt;
        if (a != nullptr && (a->kind() == kAdd_ || a->kind() == kAdd) &&
            only_user(u->output(1)) == a && a->input(0) == u->output(0) &&
            a->input(1) == u->output(1) && alpha && alpha->isScalar() &&
            alpha->toScalar().toDouble() == 1.0) {
          p.broadcast = u;
          p.add = a;
          p.sum = u->input(0) == y ? u->input(1) : u->input(0);
        }
        // When both sides are convolutions (a downsampling shortcut), the later one takes the
        // add: the earlier one's output is then ready to be summed into.
        if (p.add != nullptr && p.sum->node()->isAfter(n)) {
          p.broadcast = nullptr;
          p.add = nullptr;
          p.sum = nullptr;
        }
        if (p.add != nullptr) {
          Node* a = p.add;
          Node* r = only_user(a->output());
          if (r != nullptr && is_relu(r) && r->input(0) == a->output()) p.relu = r;
          std::unordered_set<const Value*> chain{u->output(0), u->output(1), a->output()};
          if (p.relu != nullptr) chain.insert(p.relu->output());
          p.in_place = dead_after(db, *graph, p.sum, a, chain);
        }
      }
      plans.push_back(p);
    }
  }

  // 2. Rewrites.
  for (Plan p : plans) {
    Node* n = p.conv;
    const c10::optional<torch::Tensor> w = constant_tensor(n->input(1));
    const c10::optional<torch::Tensor> b = constant_tensor(n->input(2));
    const c10::optional<c10::IValue> stride = torch::jit::toIValue(n->input(3));
    const c10::optional<c10::IValue> padding = torch::jit::toIValue(n->input(4));
    const c10::optional<c10::IValue> dilation = torch::jit::toIValue(n->input(5));
    const c10::optional<c10::IValue> groups = torch::jit::toIValue(n->input(6));
    if (!w || !w->defined() || !b || !stride || !padding || !dilation || !groups ||
        !groups->isInt() || groups->toInt() != 1) {
      continue;
    }
    torch::Tensor wt = *w;
    std::vector<int64_t> st = stride->toIntVector(), pd = padding->toIntVector(),
                         dl = dilation->toIntVector();
    if (wt.scalar_type() != torch::kFloat) continue;
    // 3-D: only kt x 1 x 1 kernels with unit stride and dilation, no spatial padding (run as
    // 2-D kt x 1 convolutions over [N, C, T, H*W]); their ReLU is fused, residual adds are not.
    bool temporal = false;
    if (wt.dim() == 5) {
      if (wt.size(3) != 1 || wt.size(4) != 1 || st != std::vector<int64_t>{1, 1, 1} ||
          dl != std::vector<int64_t>{1, 1, 1} || pd.size() != 3 || pd[1] != 0 || pd[2] != 0) {
        continue;
      }
      temporal = true;
      st = {1, 1};
      dl = {1, 1};
      pd = {pd[0], 0};
      if (p.add != nullptr) {  // keep LibTorch's add (and its ReLU)
        p.add = nullptr;
        p.broadcast = nullptr;
        p.sum = nullptr;
        p.relu = nullptr;
      }
    } else if (wt.dim() != 4 || st.size() != 2 || pd.size() != 2 || dl.size() != 2) {
      continue;
    }
    wt = (wt.is_mkldnn() ? wt.to_dense() : wt).contiguous();
    if (temporal) wt = wt.reshape({wt.size(0), wt.size(1), wt.size(2), 1}).contiguous();
    torch::Tensor bt;
    if (b->defined()) {
      bt = *b;
      bt = (bt.is_mkldnn() ? bt.to_dense() : bt).contiguous().to(torch::kFloat);
    }
    const bool wino = options.winograd && wt.size(2) == 3 && wt.size(3) == 3 && st[0] == 1 &&
                      st[1] == 1 && dl[0] == 1 && dl[1] == 1;
    auto ctx = c10::make_intrusive<OneDnnConv>(wt, bt, st, pd, dl, p.relu != nullptr,
                                               p.sum != nullptr, wino, temporal);
    Node* at = p.add != nullptr ? p.add : p.relu != nullptr ? p.relu : n;
    const torch::jit::WithInsertPoint guard(at);
    const c10::optional<Value*> ctx_value = torch::jit::tryInsertConstant(*graph, c10::IValue(ctx));
    if (!ctx_value) continue;
    const c10::Symbol kind = p.sum == nullptr ? kOp : p.in_place ? kOpAdd_ : kOpAdd;
    std::vector<Value*> inputs{n->input(0), *ctx_value};
    if (p.sum != nullptr) {
      inputs.push_back(p.broadcast->input(0) == n->output() ? p.broadcast->input(1)
                                                            : p.broadcast->input(0));
    }
    Node* f = graph->create(kind, inputs, 1);
    f->insertBefore(at);
    f->output()->setType(c10::TensorType::get());
    Value* result = p.relu != nullptr  ? p.relu->output()
                    : p.add != nullptr ? p.add->output()
                                       : n->output();
    result->replaceAllUsesWith(f->output());
    if (p.relu != nullptr) p.relu->destroy();
    if (p.add != nullptr) p.add->destroy();
    if (p.broadcast != nullptr) p.broadcast->destroy();
    n->destroy();
    ++counts.convs;
    counts.temporal += temporal ? 1 : 0;
    counts.winograd += wino ? 1 : 0;
    counts.relu += p.relu != nullptr ? 1 : 0;
    counts.adds += p.sum != nullptr ? 1 : 0;
    counts.adds_in_place += p.sum != nullptr && p.in_place ? 1 : 0;
  }
  torch::jit::EliminateDeadCode(graph);
  return counts;
}

int64_t onednn_winograd_in_use(const std::shared_ptr<torch::jit::Graph>& graph) {
  int64_t k = 0;
  for (const Node* n : graph->block()->nodes()) {
    const std::string kind = n->kind().toQualString();
    if (kind.rfind("videocls::onednn_conv", 0) != 0) continue;
    const c10::optional<c10::IValue> c = torch::jit::toIValue(n->input(1));
    if (c && c->isCustomClass() && c->toCustomClass<OneDnnConv>()->uses_winograd()) ++k;
  }
  return k;
}

#else  // !VC_ONEDNN_CONV

bool onednn_conv_available() { return false; }

OneDnnConvCounts fuse_onednn_convolutions(const std::shared_ptr<torch::jit::Graph>&,
                                          const OneDnnConvOptions&) {
  return {};
}

int64_t onednn_winograd_in_use(const std::shared_ptr<torch::jit::Graph>&) { return 0; }

#endif

}  // namespace vc::models
