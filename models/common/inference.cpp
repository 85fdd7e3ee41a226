#include "models/common/inference.h"

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include <ATen/Context.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "models/common/onednn_conv.h"
#include "models/common/onednn_shift.h"

namespace vc::models {

struct FastInferenceImpl::Entry {
  torch::jit::Module module;
  std::vector<std::string> names;  // input tensor names, in the traced argument order
  LayoutPassCounts layout;         // what keep_onednn_layouts changed
  OneDnnConvCounts convs;          // what fuse_onednn_convolutions changed
};

namespace {

// Ops through which a C++ forward reads a tensor value into a plain number or bool (item(),
// `if (t.equal(u))`, `bool(t)`, ...). The tracer does not record them: the value would be baked
// into the trace as a constant, so the graph could be wrong for other inputs. A RecordFunction
// callback watches for them while tracing, among the outermost ops only: ATen's own kernels read
// values inside an op (a dilated convolution at batch 1 calls fill_ -> item 12 times), which the
// trace records as the one op it is.
thread_local const char* t_scalar_read = nullptr;
thread_local bool t_watch_scalars = false;
thread_local int t_watch_depth = 0;

bool is_scalar_read(const char* name) {
  static const std::set<std::string> kinds = {"aten::item", "aten::_local_scalar_dense",
                                              "aten::is_nonzero", "aten::equal"};
  return kinds.count(name) != 0;
}

std::unique_ptr<at::ObserverContext> watch_scalars(const at::RecordFunction& fn) {
  if (!t_watch_scalars) return nullptr;
  if (t_watch_depth++ == 0 && t_scalar_read == nullptr && is_scalar_read(fn.name())) {
    t_scalar_read = fn.name();
  }
  return nullptr;
}

void watch_scalars_end(const at::RecordFunction&, at::ObserverContext*) {
  if (t_watch_scalars && t_watch_depth > 0) --t_watch_depth;
}

std::string what_of(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) {
    return c->what_without_backtrace();
  }
  return e.what();
}

// A script module whose "forward" is the trace of model.forward on `input` (tensors in the
// order of `names`, i.e. the ModelInput's sorted names). The model's parameters and buffers are
// attributes of that module, so that the tracer records reads of them (prim::GetAttr) instead of
// refusing them as constants; torch::jit::freeze then turns them into constants it may fold.
// `*scalar_read` (when given) is set to the op through which forward read a tensor value while
// being traced ("aten::item", ...), or "".
torch::jit::Module trace_model(VideoModelImpl& model, const ModelInput& input,
                               std::vector<std::string>* names, std::string* scalar_read) {
  torch::jit::Module holder(c10::QualifiedName("__torch__.vc.FastInference"));
  int64_t k = 0;
  for (const auto& p : model.named_parameters(/*recurse=*/true)) {
    holder.register_parameter("p" + std::to_string(k++), p.value(), /*is_buffer=*/false);
  }
  for (const auto& b : model.named_buffers(/*recurse=*/true)) {
    if (b.value().defined()) holder.register_buffer("b" + std::to_string(k++), b.value());
  }
  torch::jit::Stack stack;
  names->clear();
  for (const auto& [name, t] : input.tensors()) {
    names->push_back(name);
    stack.emplace_back(t);
  }
  VideoModelImpl* m = &model;
  const std::vector<std::string> arg_names = *names;
  auto traced_fn = [m, arg_names](torch::jit::Stack in) -> torch::jit::Stack {
    ModelInput mi;
    for (std::size_t i = 0; i < arg_names.size(); ++i) mi.set(arg_names[i], in[i].toTensor());
    return {m->forward(mi)};
  };
  std::shared_ptr<torch::jit::Graph> graph;
  t_scalar_read = nullptr;
  t_watch_scalars = true;
  t_watch_depth = 0;
  const at::CallbackHandle watcher =
      at::addThreadLocalCallback(at::RecordFunctionCallback(watch_scalars, watch_scalars_end)
                                     .scopes({at::RecordScope::FUNCTION}));
  try {
    auto traced = torch::jit::tracer::trace(
        std::move(stack), traced_fn, [](const torch::autograd::Variable&) { return std::string(); },
        /*strict=*/true, /*force_outplace=*/false, &holder);
    graph = traced.first->graph;
  } catch (...) {
    at::removeCallback(watcher);
    t_watch_scalars = false;
    // A failed trace may leave the tracing state set: clear it before anything runs eager.
    if (torch::jit::tracer::isTracing()) torch::jit::tracer::abandon();
    throw;
  }
  at::removeCallback(watcher);
  t_watch_scalars = false;
  if (scalar_read != nullptr) *scalar_read = t_scalar_read ? t_scalar_read : "";
  auto fn = holder._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*holder.type()->name(), "forward"), graph);
  holder.type()->addMethod(fn);
  return holder;
}

// FLOP counting: a RecordFunction callback sees every ATen op of an eager forward with its
// input and output shapes. Only the outermost counted op of a nest is counted (aten::linear
// calls addmm or matmul, matmul calls mm or bmm, convolution calls _convolution and a backend).
struct FlopContext : at::ObserverContext {
  std::vector<std::vector<int64_t>> in;  // input sizes (empty for non-tensors)
  bool transposed = false;
};
thread_local FlopCount* t_flops = nullptr;
thread_local int t_flop_depth = 0;

bool is_counted(const char* name) {
  static const std::set<std::string> ops = {
      "aten::convolution", "aten::_convolution", "aten::linear", "aten::addmm",
      "aten::mm",          "aten::bmm",          "aten::matmul"};
  return ops.count(name) != 0;
}

double prod(const std::vector<int64_t>& s, std::size_t from = 0) {
  double p = 1;
  for (std::size_t i = from; i < s.size(); ++i) p *= static_cast<double>(s[i]);
  return p;
}

std::unique_ptr<at::ObserverContext> flops_start(const at::RecordFunction& fn) {
  if (t_flops == nullptr || !is_counted(fn.name())) return nullptr;
  if (t_flop_depth++ > 0) return nullptr;
  auto ctx = std::make_unique<FlopContext>();
  const auto inputs = fn.inputs();
  for (const c10::IValue& v : inputs) {
    ctx->in.push_back(v.isTensor() ? v.toTensor().sizes().vec() : std::vector<int64_t>{});
  }
  const std::string name = fn.name();
  if ((name == "aten::convolution" || name == "aten::_convolution") && inputs.size() > 6 &&
      inputs[6].isBool()) {
    ctx->transposed = inputs[6].toBool();
  }
  return ctx;
}

void flops_end(const at::RecordFunction& fn, at::ObserverContext* c) {
  if (t_flops == nullptr || !is_counted(fn.name())) return;
  --t_flop_depth;
  if (c == nullptr) return;
  const auto* ctx = static_cast<const FlopContext*>(c);
  const std::string name = fn.name();
  const auto& outs = fn.outputs();
  const std::vector<int64_t> out = !outs.empty() && outs[0].isTensor()
                                       ? outs[0].toTensor().sizes().vec()
                                       : std::vector<int64_t>{};
  auto in = [&](std::size_t i) { return i < ctx->in.size() ? ctx->in[i] : std::vector<int64_t>{}; };
  if (name == "aten::convolution" || name == "aten::_convolution") {
    // Each output (input, when transposed) element costs prod(w) / w[0] multiply-adds.
    const auto w = in(1);
    const auto io = ctx->transposed ? in(0) : out;
    if (w.empty() || io.empty()) {
      ++t_flops->uncounted;
      return;
    }
    t_flops->conv += 2.0 * prod(io) * prod(w, 1);
  } else if (name == "aten::linear") {
    const auto x = in(0);
    const auto w = in(1);  // [out, in]
    if (x.empty() || w.size() != 2) {
      ++t_flops->uncounted;
      return;
    }
    t_flops->linear += 2.0 * prod(x) / static_cast<double>(x.back()) * prod(w);
  } else {  // addmm(bias, a, b), mm / bmm / matmul(a, b): output numel x inner size
    const auto a = in(name == "aten::addmm" ? 1 : 0);
    if (a.empty() || out.empty()) {
      ++t_flops->uncounted;
      return;
    }
    (name == "aten::addmm" ? t_flops->linear : t_flops->matmul) +=
        2.0 * prod(out) * static_cast<double>(a.back());
  }
}

// Could `n` write into one of its inputs? Ops with a schema say so; ops without one (prim::
// nodes) are assumed to.
bool may_mutate(const torch::jit::Node* n) {
  const c10::FunctionSchema* schema = n->maybeSchema();
  return schema == nullptr || schema->is_mutable();
}

}  // namespace

LayoutPassCounts keep_onednn_layouts(const std::shared_ptr<torch::jit::Graph>& graph) {
  using torch::jit::Node;
  using torch::jit::Value;
  static const c10::Symbol kShift = c10::Symbol::fromQualString("videocls::temporal_shift");
  static const c10::Symbol kToDense = c10::Symbol::fromQualString("aten::to_dense");
  static const c10::Symbol kToMkldnn = c10::Symbol::fromQualString("aten::to_mkldnn");
  LayoutPassCounts counts;
  torch::jit::Block* top = graph->block();

  // 1. to_mkldnn(shift(to_dense(v))) -> shift(v): the op takes the oneDNN tensor itself.
  if (onednn_shift_available()) {
    std::vector<Node*> shifts;
    for (Node* n : top->nodes()) {
      if (n->kind() == kShift) shifts.push_back(n);
    }
    for (Node* n : shifts) {
      Node* d = n->input(0)->node();
      if (d->kind() != kToDense || n->output()->uses().empty()) continue;
      bool all_to_mkldnn = true;
      for (const torch::jit::Use& u : n->output()->uses()) {
        all_to_mkldnn = all_to_mkldnn && u.user->kind() == kToMkldnn;
      }
      if (!all_to_mkldnn) continue;
      // The shift reads v itself and its consumers read its output; the conversions go dead.
      n->replaceInput(0, d->input(0));
      n->output()->setType(c10::TensorType::get());
      const auto uses = n->output()->uses();
      for (const torch::jit::Use& u : uses) u.user->output()->replaceAllUsesWith(n->output());
      ++counts.shifts;
    }
    torch::jit::EliminateDeadCode(graph);
  }

  // 2. to_mkldnn(to_dense(v)) -> v, when nothing else reads v afterwards and nothing writes it
  // (the consumers may then update v in place, as they would have updated the copy).
  std::vector<Node*> to_mkldnn;
  for (Node* n : top->nodes()) {
    if (n->kind() == kToMkldnn) to_mkldnn.push_back(n);
  }
  for (Node* u : to_mkldnn) {
    Node* d = u->input(0)->node();
    if (d->kind() != kToDense || d->output()->uses().size() != 1) continue;
    Value* v = d->input(0);
    if (v->node()->kind() == c10::prim::Param || v->node()->owningBlock() != top) continue;
    bool safe = true;
    for (const torch::jit::Use& use : v->uses()) {
      if (use.user == d) continue;
      safe =
          safe && use.user->owningBlock() == top && use.user->isBefore(u) && !may_mutate(use.user);
    }
    if (!safe) continue;
    u->output()->replaceAllUsesWith(v);
    ++counts.round_trips;
  }
  torch::jit::EliminateDeadCode(graph);
  return counts;
}

std::string input_signature(const ModelInput& input) {
  std::ostringstream s;
  for (const auto& [name, t] : input.tensors()) {
    s << name << ":";
    if (!t.defined()) {
      s << "undefined;";
      continue;
    }
    s << c10::toString(t.scalar_type()) << t.sizes() << "@" << t.device() << ";";
  }
  return s.str();
}

FastInferenceImpl::FastInferenceImpl(VideoModelPtr inner, const FastInferenceOptions& options,
                                     LogFn log)
    : inner_(std::move(inner)), options_(options), log_(std::move(log)) {
  if (!inner_) throw std::invalid_argument("FastInference: the wrapped model is null");
  register_module("model", inner_);
}

std::shared_ptr<FastInferenceImpl::Entry> FastInferenceImpl::compile(const ModelInput& input,
                                                                     std::string* why_not) {
  auto entry = std::make_shared<Entry>();
  std::string op;
  torch::jit::Module traced = trace_model(*inner_, input, &entry->names, &op);
  if (!op.empty()) {
    *why_not =
        "forward reads a tensor value into a C++ number (" + op + "), which a trace would freeze";
    return nullptr;
  }
  torch::jit::Module frozen = torch::jit::freeze(traced);
  entry->module = options_.optimize() ? torch::jit::optimize_for_inference(frozen) : frozen;
  if (options_.optimize() && options_.keep_onednn_layouts()) {
    entry->layout = keep_onednn_layouts(entry->module.get_method("forward").graph());
  }
  if (options_.optimize() && options_.onednn_convolutions()) {
    OneDnnConvOptions o;
    o.winograd = options_.winograd();
    entry->convs = fuse_onednn_convolutions(entry->module.get_method("forward").graph(), o);
  }
  return entry;
}

torch::Tensor FastInferenceImpl::forward(const ModelInput& input) {
  if (is_training()) return inner_->forward(input);  // training: always eager, with gradients
  torch::NoGradGuard no_grad;
  inner_->eval();
  ModelInput in;
  for (const auto& [name, t] : input.tensors()) in.set(name, t.defined() ? t.contiguous() : t);
  const std::string sig = input_signature(in);

  auto it = cache_.find(sig);
  if (it == cache_.end()) {
    std::shared_ptr<Entry> entry;
    std::string why_not;
    if (!inner_->supports_traced_inference()) {
      if (!disabled_logged_ && log_) {
        log_("fast inference: the network declares that it cannot be traced; running eager");
      }
      disabled_logged_ = true;
      cache_.emplace(sig, nullptr);
      ++stats_.eager_calls;
      return inner_->forward(in);
    }
    if (static_cast<int64_t>(cache_.size()) >= options_.max_signatures()) {
      if (log_) {
        log_("fast inference: more than " + std::to_string(options_.max_signatures()) +
             " input shapes; running eager for " + sig);
      }
      cache_.emplace(sig, nullptr);
      ++stats_.rejected;
      ++stats_.eager_calls;
      return inner_->forward(in);
    }
    try {
      entry = compile(in, &why_not);
    } catch (const std::exception& e) {
      entry = nullptr;
      why_not = "tracing / freezing failed: " + what_of(e);
    }
    torch::Tensor fast_out;
    if (entry && options_.verify()) {
      try {
        torch::jit::Stack stack;
        for (const auto& name : entry->names) stack.emplace_back(in.at(name));
        fast_out = entry->module.forward(stack).toTensor();
        if (fast_out.is_mkldnn()) fast_out = fast_out.to_dense();
        const torch::Tensor ref = inner_->forward(in);
        if (!ref.sizes().equals(fast_out.sizes())) {
          std::ostringstream m;
          m << "output shape " << fast_out.sizes() << " != eager " << ref.sizes();
          why_not = m.str();
          entry = nullptr;
        } else {
          const double diff = ref.numel() == 0 ? 0.0 : (fast_out - ref).abs().max().item<double>();
          const double scale = ref.numel() == 0 ? 0.0 : ref.abs().max().item<double>();
          const double allowed = options_.tolerance() * std::max(1.0, scale);
          if (!(diff <= allowed)) {  // also catches NaN
            std::ostringstream m;
            m << "max |fast - eager| = " << diff << " > tolerance " << allowed << " (logits up to "
              << scale << ")";
            why_not = m.str();
            entry = nullptr;
          } else {
            stats_.max_abs_diff = std::max(stats_.max_abs_diff, diff);
            if (log_) {
              std::ostringstream m;
              m << "fast inference: traced " << sig << " (frozen"
                << (options_.optimize() ? ", optimised for inference" : "")
                << (at::hasMKLDNN() ? ", oneDNN available" : ", no oneDNN");
              if (entry->layout.shifts > 0) {
                m << "; " << entry->layout.shifts << " temporal shifts on oneDNN tensors";
              }
              if (entry->layout.round_trips > 0) {
                m << "; " << entry->layout.round_trips << " layout round trips removed";
              }
              const OneDnnConvCounts& c = entry->convs;
              if (c.convs > 0) {
                m << "; " << c.convs << " convolutions on videocls's oneDNN primitives ("
                  << onednn_winograd_in_use(entry->module.get_method("forward").graph())
                  << " Winograd, ";
                if (c.temporal > 0) m << c.temporal << " temporal 3-D as 2-D, ";
                m << c.relu << " ReLUs and " << c.adds << " residual adds fused)";
              }
              m << "); max |fast - eager| = " << diff << " (logits up to " << scale << ")";
              log_(m.str());
            }
          }
        }
      } catch (const std::exception& e) {
        entry = nullptr;
        why_not = "running the traced graph failed: " + what_of(e);
      }
    } else if (entry && log_) {
      log_("fast inference: traced " + sig + " (not verified against eager)");
    }
    cache_.emplace(sig, entry);
    if (!entry) {
      ++stats_.rejected;
      if (log_) log_("fast inference: running eager for " + sig + ": " + why_not);
      ++stats_.eager_calls;
      return inner_->forward(in);
    }
    ++stats_.traced;
    if (fast_out.defined()) {
      ++stats_.fast_calls;
      return fast_out;
    }
    it = cache_.find(sig);
  }
  if (!it->second) {
    ++stats_.eager_calls;
    return inner_->forward(in);
  }
  torch::jit::Stack stack;
  for (const auto& name : it->second->names) stack.emplace_back(in.at(name));
  torch::Tensor out = it->second->module.forward(stack).toTensor();
  if (out.is_mkldnn()) out = out.to_dense();
  ++stats_.fast_calls;
  return out;
}

std::string FastInferenceImpl::graph_text(const ModelInput& input) const {
  ModelInput in;
  for (const auto& [name, t] : input.tensors()) in.set(name, t);
  const auto it = cache_.find(input_signature(in));
  if (it == cache_.end() || !it->second) return "";
  return it->second->module.get_method("forward").graph()->toString();
}

FlopCount count_inference_flops(VideoModelImpl& model, const ModelInput& input) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  FlopCount c;
  t_flops = &c;
  t_flop_depth = 0;
  const at::CallbackHandle h =
      at::addThreadLocalCallback(at::RecordFunctionCallback(flops_start, flops_end)
                                     .needsInputs(true)
                                     .needsOutputs(true)
                                     .scopes({at::RecordScope::FUNCTION}));
  try {
    model.forward(input);
  } catch (...) {
    at::removeCallback(h);
    t_flops = nullptr;
    model.train(was_training);
    throw;
  }
  at::removeCallback(h);
  t_flops = nullptr;
  model.train(was_training);
  return c;
}

std::shared_ptr<FastInferenceImpl> make_fast_inference(VideoModelPtr inner,
                                                       const FastInferenceOptions& options,
                                                       FastInferenceImpl::LogFn log) {
  return std::make_shared<FastInferenceImpl>(std::move(inner), options, std::move(log));
}

}  // namespace vc::models
