// State dicts: read_state_dict (LibTorch's reader first, pickle.h's interpreter as the
// fallback), save_state_dict, module_state_dict and the name matching of load_state_dict.
#include "tools/common/weights/state_dict.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/import_read.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <unordered_map>

#include "datareader/errors.h"
#include "datareader/pickle.h"
#include "tools/common/errors.h"

namespace vc::app {

namespace pickle = vc::data::pickle;

namespace {

using pickle::Value;
using pickle::ValuePtr;

// LibTorch's IValue -> our value tree; nullptr for kinds a state dict never holds.
ValuePtr from_ivalue(const c10::IValue& v) {
  auto o = std::make_shared<Value>();
  if (v.isNone()) {
    o->kind = Value::Kind::kNone;
  } else if (v.isBool()) {
    o->kind = Value::Kind::kBool;
    o->b = v.toBool();
  } else if (v.isInt()) {
    o->kind = Value::Kind::kInt;
    o->i = v.toInt();
  } else if (v.isDouble()) {
    o->kind = Value::Kind::kFloat;
    o->f = v.toDouble();
  } else if (v.isString()) {
    o->kind = Value::Kind::kStr;
    o->s = v.toStringRef();
  } else if (v.isTensor()) {
    o->kind = Value::Kind::kTensor;
    o->tensor = v.toTensor();
  } else if (v.isTuple() || v.isList()) {
    o->kind = v.isTuple() ? Value::Kind::kTuple : Value::Kind::kList;
    const auto elements = v.isTuple() ? v.toTupleRef().elements().vec() : v.toListRef().vec();
    for (const auto& e : elements) {
      ValuePtr item = from_ivalue(e);
      if (!item) return nullptr;
      o->items.push_back(item);
    }
  } else if (v.isGenericDict()) {
    o->kind = Value::Kind::kDict;
    for (const auto& kv : v.toGenericDict()) {
      ValuePtr key = from_ivalue(kv.key());
      ValuePtr value = from_ivalue(kv.value());
      if (!key || !value) return nullptr;
      o->entries.emplace_back(key, value);
    }
  } else {
    return nullptr;
  }
  return o;
}

// The file as LibTorch's unpickler reads it (what torch::pickle_load does, without reading the
// whole file into memory); nullptr when it cannot.
ValuePtr read_with_libtorch(const std::string& path) {
  try {
    caffe2::serialize::PyTorchStreamReader archive(path);
    const c10::IValue v = torch::jit::readArchiveAndTensors(
        "data", /*pickle_prefix=*/"", /*tensor_prefix=*/"", /*type_resolver=*/c10::nullopt,
        /*obj_loader=*/c10::nullopt, /*device=*/at::Device(at::kCPU), archive);
    return from_ivalue(v);
  } catch (const std::exception&) {
    return nullptr;
  }
}

// {name: tensor}, or a dict nesting one under "state_dict" / "model"; IoError naming `path`.
StateDict state_dict_from(const Value& root, const std::string& path) {
  const std::string where = "cannot read state dict '" + path + "': ";
  if (root.kind != Value::Kind::kDict) {
    throw IoError(where + "it holds a " + root.kind_name() + ", expected a dict of tensors");
  }
  const Value* dict = &root;
  for (const char* nest : {"state_dict", "model"}) {
    const Value* inner = root.find(nest);
    if (inner && inner->kind == Value::Kind::kDict) {
      dict = inner;
      break;
    }
  }
  StateDict sd;
  sd.reserve(dict->entries.size());
  for (const auto& kv : dict->entries) {
    if (kv.first->kind != Value::Kind::kStr) {
      throw IoError(where + "a key is a " + kv.first->kind_name() + ", expected str");
    }
    if (kv.second->kind != Value::Kind::kTensor) {
      throw IoError(where + "entry '" + kv.first->s + "' is a " + kv.second->kind_name() +
                    ", expected a tensor (a dict of weights, or a dict nesting one under "
                    "\"state_dict\" or \"model\")");
    }
    sd.emplace_back(kv.first->s, kv.second->tensor);
  }
  return sd;
}

std::string shape_str(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

void append_state(const torch::nn::Module& module, const std::string& prefix, StateDict& out) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) {
    if (p.value().defined()) out.emplace_back(prefix + p.key(), p.value());
  }
  for (const auto& b : module.named_buffers(/*recurse=*/false)) {
    if (b.value().defined()) out.emplace_back(prefix + b.key(), b.value());
  }
  for (const auto& child : module.named_children()) {
    append_state(*child.value(), prefix + child.key() + ".", out);
  }
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
StateDict read_state_dict(const std::string& path) {
  if (ValuePtr root = read_with_libtorch(path)) {
    try {
      return state_dict_from(*root, path);
    } catch (const IoError&) {
      // Not a state dict as LibTorch sees it: let the interpreter have the last word.
    }
  }
  ValuePtr root;
  try {
    root = pickle::read_torch_zip(path);
  } catch (const vc::data::DataError& e) {  // the data layer's file error, same message
    throw IoError(e.what());
  }
  return state_dict_from(*root, path);
}

void save_state_dict(const std::string& path, const StateDict& sd) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& kv : sd)
    dict.insert_or_assign(kv.first, kv.second.detach().to(torch::kCPU).contiguous());
  const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(dict));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError("cannot write state dict '" + path + "': file cannot be opened");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw IoError("cannot write state dict '" + path + "': write failed");
}

StateDict module_state_dict(const torch::nn::Module& module) {
  StateDict out;
  append_state(module, "", out);
  return out;
}

void load_state_dict(torch::nn::Module& module, const StateDict& sd, const LoadOptions& opt,
                     const std::string& source_name) {
  const auto skipped = [&](const std::string& key) {
    for (const auto& p : opt.skip_prefixes) {
      if (starts_with(key, p)) return true;
    }
    return false;
  };
  const StateDict targets = module_state_dict(module);
  std::unordered_map<std::string, const torch::Tensor*> by_name;
  for (const auto& kv : targets) by_name.emplace(kv.first, &kv.second);

  std::vector<std::pair<const torch::Tensor*, const torch::Tensor*>> copies;  // (dst, src)
  std::set<std::string> loaded;
  std::vector<std::string> unexpected, mismatched, missing;
  for (const auto& kv : sd) {
    if (skipped(kv.first)) continue;
    const std::string name = opt.prefix + kv.first;
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      unexpected.push_back(kv.first);
      continue;
    }
    const torch::Tensor& dst = *it->second;
    if (dst.sizes() != kv.second.sizes()) {
      mismatched.push_back(kv.first + ": expected " + shape_str(dst) + ", got " +
                           shape_str(kv.second));
      continue;
    }
    copies.emplace_back(&dst, &kv.second);
    loaded.insert(name);
  }
  for (const auto& kv : targets) {
    if (!starts_with(kv.first, opt.prefix)) continue;
    if (skipped(kv.first.substr(opt.prefix.size()))) continue;
    if (!loaded.count(kv.first)) missing.push_back(kv.first.substr(opt.prefix.size()));
  }
  // A key may only be missing because it was mis-shaped; that is reported once, as a mismatch.
  if (!mismatched.empty() || !unexpected.empty() || (!missing.empty() && !opt.allow_missing)) {
    std::ostringstream msg;
    msg << "state dict '" << source_name << "' does not fit the model";
    if (!opt.prefix.empty()) msg << " (file keys are loaded as '" << opt.prefix << "' + key)";
    msg << ":";
    const auto list = [&](const char* title, const std::vector<std::string>& keys) {
      if (keys.empty()) return;
      msg << "\n  " << title << " (" << keys.size() << "):";
      for (const auto& k : keys) msg << "\n    " << k;
    };
    std::vector<std::string> missing_only;
    for (const auto& k : missing) {
      bool was_mismatch = false;
      for (const auto& m : mismatched) was_mismatch = was_mismatch || starts_with(m, k + ": ");
      if (!was_mismatch) missing_only.push_back(k);
    }
    if (!opt.allow_missing) list("missing in the file", missing_only);
    list("unexpected in the file", unexpected);
    list("shape mismatch", mismatched);
    throw StateDictError(msg.str());
  }
  torch::NoGradGuard no_grad;
  for (const auto& c : copies) c.first->copy_(*c.second);
}

}  // namespace vc::app
