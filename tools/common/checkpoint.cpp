#include "tools/common/checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tools/common/errors.h"

namespace vc::app {
namespace {

c10::impl::GenericDict tensor_dict(const NamedTensors& tensors) {
  c10::impl::GenericDict d(c10::StringType::get(), c10::TensorType::get());
  for (const auto& [name, t] : tensors) d.insert(name, t.detach().to(torch::kCPU).contiguous());
  return d;
}

NamedTensors tensors_of(const c10::IValue& v, const std::string& what, const std::string& path) {
  if (!v.isGenericDict()) throw IoError(path + ": checkpoint field '" + what + "' is not a dict");
  NamedTensors out;
  for (const auto& item : v.toGenericDict()) {
    if (!item.key().isString() || !item.value().isTensor()) {
      throw IoError(path + ": checkpoint field '" + what + "' must map names to tensors");
    }
    out.emplace_back(item.key().toStringRef(), item.value().toTensor());
  }
  return out;
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError("cannot write '" + tmp + "'");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw IoError("error writing '" + tmp + "' (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw IoError("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
}

void copy_file_atomic(const std::string& from, const std::string& to) {
  const std::string tmp = to + ".tmp";
  std::error_code ec;
  std::filesystem::copy_file(from, tmp, std::filesystem::copy_options::overwrite_existing, ec);
  if (!ec) std::filesystem::rename(tmp, to, ec);
  if (ec) throw IoError("cannot copy '" + from + "' to '" + to + "': " + ec.message());
}

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
  d.insert("format", std::string("videocls-checkpoint"));
  d.insert("version", int64_t{2});
  d.insert("model_name", c.model_name);
  d.insert("epoch", c.epoch);
  d.insert("step_in_epoch", c.step_in_epoch);
  d.insert("global_step", c.global_step);
  c10::impl::GenericDict best(c10::StringType::get(), c10::AnyType::get());
  best.insert("name", c.best_metric_name);
  best.insert("value", c.best_metric_value);
  d.insert("best_metric", best);
  d.insert("seed", c.seed);
  d.insert("config", c.config_yaml);
  d.insert("model", tensor_dict(c.model));
  c10::impl::GenericDict opt(c10::StringType::get(), c10::AnyType::get());
  opt.insert("type", c.optimizer_type);
  c10::impl::GenericDict slots(c10::StringType::get(), c10::AnyType::get());
  for (const auto& [slot, tensors] : c.optimizer_state) slots.insert(slot, tensor_dict(tensors));
  opt.insert("state", slots);
  d.insert("optimizer", opt);
  c10::impl::GenericDict rng(c10::StringType::get(), c10::TensorType::get());
  if (c.torch_rng_state.defined()) rng.insert("torch_cpu", c.torch_rng_state);
  d.insert("rng", rng);
  std::vector<char> bytes = torch::pickle_save(c10::IValue(d));
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

Checkpoint load_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("checkpoint not found or unreadable: '" + path + "'");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue v;
  try {
    v = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    throw IoError("'" + path + "' is not a videocls checkpoint (cannot unpickle: " +
                  std::string(e.what()).substr(0, 200) + ")");
  }
  if (!v.isGenericDict()) throw IoError("'" + path + "' is not a videocls checkpoint (not a dict)");
  auto d = v.toGenericDict();
  auto get = [&](const char* key) -> c10::IValue {
    auto it = d.find(key);
    if (it == d.end()) throw IoError("'" + path + "': checkpoint has no field '" + key + "'");
    return it->value();
  };
  if (!d.contains("format") || get("format").toStringRef() != "videocls-checkpoint") {
    throw IoError("'" + path + "' is not a videocls checkpoint (no format marker)");
  }
  Checkpoint c;
  c.model_name = get("model_name").toStringRef();
  c.epoch = get("epoch").toInt();
  c.step_in_epoch = get("step_in_epoch").toInt();
  c.global_step = get("global_step").toInt();
  c.version = d.contains("version") ? get("version").toInt() : 1;
  if (c.version > 2) {
    throw IoError("'" + path + "' is a version " + std::to_string(c.version) +
                  " checkpoint; this build reads versions 1 and 2 (a newer videocls wrote it)");
  }
  if (d.contains("best_metric")) {
    auto best = get("best_metric");
    if (!best.isGenericDict()) throw IoError("'" + path + "': best_metric is not a dict");
    auto bd = best.toGenericDict();
    if (!bd.contains("name") || !bd.contains("value")) {
      throw IoError("'" + path + "': best_metric needs 'name' and 'value'");
    }
    c.best_metric_name = bd.at("name").toStringRef();
    c.best_metric_value = bd.at("value").toDouble();
  } else {
    c.best_metric_name = "top1";  // version 1
    c.best_metric_value = get("best_top1").toDouble();
  }
  c.seed = get("seed").toInt();
  c.config_yaml = get("config").toStringRef();
  c.model = tensors_of(get("model"), "model", path);
  auto opt = get("optimizer");
  if (!opt.isGenericDict()) throw IoError("'" + path + "': optimizer is not a dict");
  auto od = opt.toGenericDict();
  if (od.contains("state")) {
    if (od.contains("type")) c.optimizer_type = od.at("type").toStringRef();
    auto st = od.at("state");
    if (!st.isGenericDict()) throw IoError("'" + path + "': optimizer.state is not a dict");
    for (const auto& item : st.toGenericDict()) {
      if (!item.key().isString()) throw IoError("'" + path + "': optimizer slot is not a name");
      const std::string slot = item.key().toStringRef();
      c.optimizer_state[slot] = tensors_of(item.value(), "optimizer.state." + slot, path);
    }
  } else if (od.contains("momentum_buffer")) {  // version 1: Fluid momentum's velocity
    c.optimizer_type = "momentum";
    c.optimizer_state["velocity"] = tensors_of(od.at("momentum_buffer"), "optimizer", path);
  }
  auto rng = get("rng");
  if (rng.isGenericDict() && rng.toGenericDict().contains("torch_cpu")) {
    c.torch_rng_state = rng.toGenericDict().at("torch_cpu").toTensor();
  }
  return c;
}

}  // namespace vc::app
