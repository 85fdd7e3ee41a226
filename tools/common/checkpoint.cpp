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
  d.insert("version", int64_t{1});
  d.insert("model_name", c.model_name);
  d.insert("epoch", c.epoch);
  d.insert("step_in_epoch", c.step_in_epoch);
  d.insert("global_step", c.global_step);
  d.insert("best_top1", c.best_top1);
  d.insert("seed", c.seed);
  d.insert("config", c.config_yaml);
  d.insert("model", tensor_dict(c.model));
  c10::impl::GenericDict opt(c10::StringType::get(), c10::AnyType::get());
  opt.insert("momentum_buffer", tensor_dict(c.momentum_buffer));
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
  c.best_top1 = get("best_top1").toDouble();
  c.seed = get("seed").toInt();
  c.config_yaml = get("config").toStringRef();
  c.model = tensors_of(get("model"), "model", path);
  auto opt = get("optimizer");
  if (opt.isGenericDict() && opt.toGenericDict().contains("momentum_buffer")) {
    c.momentum_buffer = tensors_of(opt.toGenericDict().at("momentum_buffer"), "optimizer", path);
  }
  auto rng = get("rng");
  if (rng.isGenericDict() && rng.toGenericDict().contains("torch_cpu")) {
    c.torch_rng_state = rng.toGenericDict().at("torch_cpu").toTensor();
  }
  return c;
}

}  // namespace vc::app
