// read_state_dict: a small pickle interpreter for the zip files torch.save writes.
//
// LibTorch 1.13's torch::pickle_load / torch::jit::Unpickler turn `collections.OrderedDict`
// (which every `model.state_dict()` is) into None and then fail on SETITEMS, and they do not
// implement POP, so the stream cannot simply be patched. The subset of pickle (protocols 2-5)
// that torch.save produces for state dicts and checkpoints is small, so it is interpreted here:
// containers, scalars, strings, memo, GLOBAL/STACK_GLOBAL + REDUCE/NEWOBJ for the few callables
// a state dict uses (OrderedDict, torch._utils._rebuild_tensor_v2, _rebuild_parameter,
// torch.jit._pickle helpers), BUILD (the OrderedDict `_metadata` state is dropped) and
// BINPERSID storages read from the archive's data/<key> records.
#include "tools/common/state_dict.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <unordered_map>

#include "tools/common/errors.h"

namespace vc::app {

namespace {

// ------------------------------------------------------------------------------------------
// Python object model (just what state dicts need).
struct PyObj;
using PyRef = std::shared_ptr<PyObj>;

struct PyObj {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kStr,
    kBytes,
    kTuple,
    kList,
    kDict,
    kTensor,
    kGlobal
  };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;                                 // kStr, kBytes, kGlobal ("module.name")
  std::vector<PyRef> items;                      // kTuple, kList
  std::vector<std::pair<PyRef, PyRef>> entries;  // kDict, insertion order
  torch::Tensor tensor;                          // kTensor
};

const char* kind_name(PyObj::Kind k) {
  switch (k) {
    case PyObj::Kind::kNone:
      return "None";
    case PyObj::Kind::kBool:
      return "bool";
    case PyObj::Kind::kInt:
      return "int";
    case PyObj::Kind::kFloat:
      return "float";
    case PyObj::Kind::kStr:
      return "str";
    case PyObj::Kind::kBytes:
      return "bytes";
    case PyObj::Kind::kTuple:
      return "tuple";
    case PyObj::Kind::kList:
      return "list";
    case PyObj::Kind::kDict:
      return "dict";
    case PyObj::Kind::kTensor:
      return "tensor";
    case PyObj::Kind::kGlobal:
      return "class/function";
  }
  return "?";
}

PyRef make(PyObj::Kind k) {
  auto o = std::make_shared<PyObj>();
  o->kind = k;
  return o;
}
PyRef make_int(int64_t v) {
  auto o = make(PyObj::Kind::kInt);
  o->i = v;
  return o;
}
PyRef make_str(PyObj::Kind k, std::string s) {
  auto o = make(k);
  o->s = std::move(s);
  return o;
}

// Thrown inside the interpreter; read_state_dict adds the file name.
struct PickleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

c10::optional<torch::ScalarType> storage_dtype(const std::string& global) {
  static const std::map<std::string, torch::ScalarType> table = {
      {"torch.FloatStorage", torch::kFloat},
      {"torch.DoubleStorage", torch::kDouble},
      {"torch.HalfStorage", torch::kHalf},
      {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kLong},
      {"torch.IntStorage", torch::kInt},
      {"torch.ShortStorage", torch::kShort},
      {"torch.CharStorage", torch::kChar},
      {"torch.ByteStorage", torch::kByte},
      {"torch.BoolStorage", torch::kBool},
      {"torch.ComplexFloatStorage", torch::kComplexFloat},
      {"torch.ComplexDoubleStorage", torch::kComplexDouble},
  };
  auto it = table.find(global);
  if (it == table.end()) return c10::nullopt;
  return it->second;
}

std::vector<int64_t> int_tuple(const PyRef& o, const char* what) {
  if (o->kind != PyObj::Kind::kTuple && o->kind != PyObj::Kind::kList) {
    throw PickleError(std::string(what) + " is a " + kind_name(o->kind) + ", expected a tuple");
  }
  std::vector<int64_t> out;
  for (const auto& e : o->items) {
    if (e->kind != PyObj::Kind::kInt) throw PickleError(std::string(what) + " holds a non-int");
    out.push_back(e->i);
  }
  return out;
}

class PickleMachine {
 public:
  PickleMachine(const char* data, size_t size, caffe2::serialize::PyTorchStreamReader& archive)
      : data_(data), size_(size), archive_(archive) {}

  PyRef run() {
    while (true) {
      const size_t at = pos_;
      const uint8_t op = u8();
      switch (op) {
        case 0x80:
          u8();
          break;  // PROTO
        case 0x95:
          bytes(8);
          break;   // FRAME (length; frames are contiguous here)
        case '.':  // STOP
          if (stack_.size() != 1) throw PickleError("malformed pickle: stack size at STOP");
          return stack_.back();
        case '(':
          marks_.push_back(stack_.size());
          break;  // MARK
        case '0':
          pop();
          break;  // POP
        case '1':
          pop_mark();
          break;  // POP_MARK
        case '2':
          push(top());
          break;  // DUP
        case 'N':
          push(make(PyObj::Kind::kNone));
          break;
        case 0x88:
        case 0x89: {  // NEWTRUE / NEWFALSE
          auto o = make(PyObj::Kind::kBool);
          o->b = op == 0x88;
          push(o);
        } break;
        case 'J':
          push(make_int(le_signed(4)));
          break;  // BININT
        case 'K':
          push(make_int(u8()));
          break;  // BININT1
        case 'M':
          push(make_int(le_unsigned(2)));
          break;      // BININT2
        case 0x8a: {  // LONG1
          const size_t n = u8();
          if (n > 8) throw PickleError("integer wider than 64 bits");
          push(make_int(n == 0 ? 0 : le_signed(n)));
        } break;
        case 0x8b: {  // LONG4
          const size_t n = le_unsigned(4);
          if (n > 8) throw PickleError("integer wider than 64 bits");
          push(make_int(n == 0 ? 0 : le_signed(n)));
        } break;
        case 'I': {  // INT (text); "00"/"01" are False/True
          const std::string line = read_line();
          if (line == "00" || line == "01") {
            auto o = make(PyObj::Kind::kBool);
            o->b = line == "01";
            push(o);
          } else {
            push(make_int(std::stoll(line)));
          }
        } break;
        case 'L': {  // LONG (text, "123L")
          std::string line = read_line();
          if (!line.empty() && line.back() == 'L') line.pop_back();
          push(make_int(std::stoll(line)));
        } break;
        case 'G': {  // BINFLOAT, big-endian double
          const char* p = bytes(8);
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | static_cast<uint8_t>(p[k]);
          auto o = make(PyObj::Kind::kFloat);
          std::memcpy(&o->f, &bits, sizeof(double));
          push(o);
        } break;
        case 'X':
          push(make_str(PyObj::Kind::kStr, str(le_unsigned(4))));
          break;  // BINUNICODE
        case 0x8c:
          push(make_str(PyObj::Kind::kStr, str(u8())));
          break;  // SHORT_BINUNICODE
        case 0x8d:
          push(make_str(PyObj::Kind::kStr, str(le_unsigned(8))));
          break;  // BINUNICODE8
        case 'T':
          push(make_str(PyObj::Kind::kStr, str(le_unsigned(4))));
          break;  // BINSTRING
        case 'U':
          push(make_str(PyObj::Kind::kStr, str(u8())));
          break;  // SHORT_BINSTRING
        case 'B':
          push(make_str(PyObj::Kind::kBytes, str(le_unsigned(4))));
          break;  // BINBYTES
        case 'C':
          push(make_str(PyObj::Kind::kBytes, str(u8())));
          break;  // SHORT_BINBYTES
        case 0x8e:
          push(make_str(PyObj::Kind::kBytes, str(le_unsigned(8))));
          break;  // BINBYTES8
        case ')':
          push(make(PyObj::Kind::kTuple));
          break;     // EMPTY_TUPLE
        case 't': {  // TUPLE
          auto o = make(PyObj::Kind::kTuple);
          o->items = pop_mark();
          push(o);
        } break;
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          const size_t n = op - 0x84;
          if (stack_.size() < n) throw PickleError("malformed pickle: stack underflow");
          auto o = make(PyObj::Kind::kTuple);
          o->items.assign(stack_.end() - n, stack_.end());
          stack_.resize(stack_.size() - n);
          push(o);
        } break;
        case ']':
          push(make(PyObj::Kind::kList));
          break;     // EMPTY_LIST
        case 'l': {  // LIST
          auto o = make(PyObj::Kind::kList);
          o->items = pop_mark();
          push(o);
        } break;
        case 'a': {  // APPEND
          PyRef v = pop();
          expect(top(), PyObj::Kind::kList, "APPEND")->items.push_back(v);
        } break;
        case 'e': {  // APPENDS
          std::vector<PyRef> vs = pop_mark();
          auto& items = expect(top(), PyObj::Kind::kList, "APPENDS")->items;
          items.insert(items.end(), vs.begin(), vs.end());
        } break;
        case '}':
          push(make(PyObj::Kind::kDict));
          break;     // EMPTY_DICT
        case 'd': {  // DICT
          std::vector<PyRef> kv = pop_mark();
          auto o = make(PyObj::Kind::kDict);
          set_items(o, kv);
          push(o);
        } break;
        case 's': {  // SETITEM
          PyRef v = pop();
          PyRef k = pop();
          set_items(expect(top(), PyObj::Kind::kDict, "SETITEM"), {k, v});
        } break;
        case 'u': {  // SETITEMS
          std::vector<PyRef> kv = pop_mark();
          set_items(expect(top(), PyObj::Kind::kDict, "SETITEMS"), kv);
        } break;
        case 'c': {  // GLOBAL "module\nname\n"
          std::string module = read_line();
          std::string name = read_line();
          push(make_str(PyObj::Kind::kGlobal, module + "." + name));
        } break;
        case 0x93: {  // STACK_GLOBAL
          PyRef name = pop();
          PyRef module = pop();
          push(make_str(PyObj::Kind::kGlobal, module->s + "." + name->s));
        } break;
        case 'q':
          memo_[u8()] = top();
          break;  // BINPUT
        case 'r':
          memo_[le_unsigned(4)] = top();
          break;  // LONG_BINPUT
        case 'p':
          memo_[std::stoull(read_line())] = top();
          break;  // PUT
        case 0x94:
          memo_[memo_.size()] = top();
          break;  // MEMOIZE
        case 'h':
          push(memo(u8()));
          break;  // BINGET
        case 'j':
          push(memo(le_unsigned(4)));
          break;  // LONG_BINGET
        case 'g':
          push(memo(std::stoull(read_line())));
          break;  // GET
        case 'R':
        case 0x81: {  // REDUCE / NEWOBJ: callable(*args)
          PyRef args = pop();
          PyRef callable = pop();
          push(call(callable, args));
        } break;
        case 'b': {  // BUILD: obj.__setstate__(state); the state of a dict/tensor is dropped
          pop();
          top();
        } break;
        case 'Q':
          push(persistent_load(pop()));
          break;  // BINPERSID
        default: {
          std::ostringstream msg;
          msg << "unsupported pickle opcode 0x" << std::hex << static_cast<int>(op) << std::dec
              << " at byte " << at << " of data.pkl";
          throw PickleError(msg.str());
        }
      }
    }
  }

 private:
  // ---- raw reads
  const char* bytes(size_t n) {
    if (n > size_ - pos_) throw PickleError("truncated pickle (data.pkl ends early)");
    const char* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint8_t u8() { return static_cast<uint8_t>(*bytes(1)); }
  uint64_t le_unsigned(size_t n) {
    const char* p = bytes(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(p[k])) << (8 * k);
    return v;
  }
  int64_t le_signed(size_t n) {
    uint64_t v = le_unsigned(n);
    if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  std::string str(uint64_t n) {
    if (n > size_) throw PickleError("truncated pickle (string length)");
    return std::string(bytes(n), n);
  }
  std::string read_line() {
    const size_t start = pos_;
    while (pos_ < size_ && data_[pos_] != '\n') ++pos_;
    if (pos_ >= size_) throw PickleError("truncated pickle (unterminated line)");
    std::string line(data_ + start, pos_ - start);
    ++pos_;
    return line;
  }

  // ---- stack
  void push(PyRef o) { stack_.push_back(std::move(o)); }
  PyRef pop() {
    if (stack_.empty()) {
      throw PickleError("malformed pickle: stack underflow");
    }
    PyRef o = std::move(stack_.back());
    stack_.pop_back();
    return o;
  }
  const PyRef& top() const {
    if (stack_.empty()) throw PickleError("malformed pickle: stack underflow");
    return stack_.back();
  }
  std::vector<PyRef> pop_mark() {
    if (marks_.empty()) throw PickleError("malformed pickle: MARK missing");
    const size_t start = marks_.back();
    marks_.pop_back();
    if (start > stack_.size()) throw PickleError("malformed pickle: MARK beyond stack");
    std::vector<PyRef> out(stack_.begin() + start, stack_.end());
    stack_.resize(start);
    return out;
  }
  PyRef memo(uint64_t id) const {
    auto it = memo_.find(id);
    if (it == memo_.end())
      throw PickleError("malformed pickle: memo " + std::to_string(id) + " unset");
    return it->second;
  }
  static const PyRef& expect(const PyRef& o, PyObj::Kind k, const char* op) {
    if (o->kind != k) {
      throw PickleError(std::string(op) + " applied to a " + kind_name(o->kind) +
                        " (unsupported Python object in the file)");
    }
    return o;
  }
  static void set_items(const PyRef& dict, const std::vector<PyRef>& kv) {
    if (kv.size() % 2 != 0) throw PickleError("malformed pickle: odd SETITEMS");
    for (size_t k = 0; k < kv.size(); k += 2) dict->entries.emplace_back(kv[k], kv[k + 1]);
  }

  // ---- callables
  PyRef call(const PyRef& callable, const PyRef& args) {
    if (callable->kind != PyObj::Kind::kGlobal) {
      throw PickleError(std::string("cannot call a ") + kind_name(callable->kind));
    }
    const std::string& name = callable->s;
    const std::vector<PyRef>& a = args->items;
    if (name == "collections.OrderedDict" || name == "builtins.dict") {
      auto d = make(PyObj::Kind::kDict);
      if (!a.empty()) {  // OrderedDict([(k, v), ...])
        for (const auto& pair : a.at(0)->items) {
          if (pair->items.size() != 2) throw PickleError("OrderedDict argument is not pairs");
          d->entries.emplace_back(pair->items[0], pair->items[1]);
        }
      }
      return d;
    }
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      // (storage, storage_offset, size, stride, [requires_grad, backward_hooks, metadata])
      if (a.size() < 4 || a[0]->kind != PyObj::Kind::kTensor || a[1]->kind != PyObj::Kind::kInt) {
        throw PickleError("malformed " + name + " arguments");
      }
      const torch::Tensor& storage = a[0]->tensor;
      const std::vector<int64_t> size = int_tuple(a[2], "tensor size");
      const std::vector<int64_t> stride = int_tuple(a[3], "tensor stride");
      int64_t extent = a[1]->i + 1;  // last element touched + 1 must fit the storage
      bool empty = false;
      for (size_t d = 0; d < size.size(); ++d) {
        if (size[d] == 0) empty = true;
        if (d < stride.size()) extent += (size[d] - 1) * stride[d];
      }
      if (size.size() != stride.size() || (!empty && extent > storage.numel())) {
        throw PickleError("tensor view does not fit its storage");
      }
      auto o = make(PyObj::Kind::kTensor);
      o->tensor =
          torch::empty({0}, storage.options()).set_(storage.storage(), a[1]->i, size, stride);
      return o;
    }
    if (name == "torch._utils._rebuild_parameter" ||
        name == "torch._utils._rebuild_parameter_with_state" ||
        name == "torch.jit._pickle.restore_type_tag" || name == "torch.jit._pickle.build_intlist" ||
        name == "torch.jit._pickle.build_tensorlist" ||
        name == "torch.jit._pickle.build_doublelist" ||
        name == "torch.jit._pickle.build_boollist") {
      if (a.empty()) throw PickleError("malformed " + name + " arguments");
      return a[0];
    }
    if (name == "torch._tensor._rebuild_from_type_v2") {  // (func, type, args, state)
      if (a.size() < 3) throw PickleError("malformed " + name + " arguments");
      return call(a[0], a[2]);
    }
    throw PickleError("unsupported Python object '" + name +
                      "' (expected a state dict of tensors: was a whole module or a TorchScript "
                      "archive saved?)");
  }

  // ('storage', storage_type, key, location, numel) -> 1-D tensor over the record data/<key>.
  PyRef persistent_load(const PyRef& pid) {
    const auto& t = pid->items;
    if (pid->kind != PyObj::Kind::kTuple || t.size() < 5 || t[0]->s != "storage" ||
        t[1]->kind != PyObj::Kind::kGlobal || t[2]->kind != PyObj::Kind::kStr ||
        t[4]->kind != PyObj::Kind::kInt) {
      throw PickleError("unsupported persistent id (expected a tensor storage)");
    }
    const std::string& key = t[2]->s;
    auto cached = storages_.find(key);
    if (cached != storages_.end()) return cached->second;
    const c10::optional<torch::ScalarType> dtype = storage_dtype(t[1]->s);
    if (!dtype) throw PickleError("unsupported storage type '" + t[1]->s + "'");
    const int64_t numel = t[4]->i;
    auto o = make(PyObj::Kind::kTensor);
    const auto options = torch::TensorOptions().dtype(*dtype);
    if (numel == 0) {
      o->tensor = torch::empty({0}, options);
    } else {
      const std::string record = "data/" + key;
      if (!archive_.hasRecord(record))
        throw PickleError("archive lacks tensor record '" + record + "'");
      at::DataPtr ptr;
      size_t nbytes = 0;
      std::tie(ptr, nbytes) = archive_.getRecord(record);
      const size_t need = static_cast<size_t>(numel) * c10::elementSize(*dtype);
      if (nbytes < need) {
        throw PickleError("tensor record '" + record + "' has " + std::to_string(nbytes) +
                          " bytes, expected " + std::to_string(need));
      }
      c10::Storage storage(c10::Storage::use_byte_size_t(), need, std::move(ptr),
                           /*allocator=*/nullptr, /*resizable=*/false);
      o->tensor = torch::empty({0}, options).set_(storage);
    }
    storages_[key] = o;
    return o;
  }

  const char* data_;
  size_t size_;
  size_t pos_ = 0;
  caffe2::serialize::PyTorchStreamReader& archive_;
  std::vector<PyRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyRef> memo_;
  std::unordered_map<std::string, PyRef> storages_;
};

const PyRef* dict_get(const PyRef& dict, const std::string& key) {
  for (const auto& kv : dict->entries) {
    if (kv.first->kind == PyObj::Kind::kStr && kv.first->s == key) return &kv.second;
  }
  return nullptr;
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
  const std::string where = "cannot read state dict '" + path + "': ";
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw IoError(where + "file cannot be opened");
    char magic[2] = {0, 0};
    probe.read(magic, 2);
    if (probe.gcount() == 2 && static_cast<uint8_t>(magic[0]) == 0x80) {
      throw IoError(where +
                    "legacy (non-zip) torch.save format; re-save it with PyTorch >= 1.6 "
                    "(torch.save(obj, f) with the default _use_new_zipfile_serialization=True)");
    }
    if (probe.gcount() < 2 || magic[0] != 'P' || magic[1] != 'K') {
      throw IoError(where + "not a zip archive written by torch.save");
    }
  }
  PyRef root;
  try {
    caffe2::serialize::PyTorchStreamReader archive(path);
    if (!archive.hasRecord("data.pkl")) {
      throw PickleError("the archive has no data.pkl record (not written by torch.save)");
    }
    at::DataPtr pkl;
    size_t pkl_size = 0;
    std::tie(pkl, pkl_size) = archive.getRecord("data.pkl");
    PickleMachine machine(static_cast<const char*>(pkl.get()), pkl_size, archive);
    root = machine.run();
  } catch (const PickleError& e) {
    throw IoError(where + e.what());
  } catch (const c10::Error& e) {
    throw IoError(where + e.what_without_backtrace());
  } catch (const std::exception& e) {  // std::stoll etc. on corrupt text opcodes
    throw IoError(where + e.what());
  }

  if (root->kind != PyObj::Kind::kDict) {
    throw IoError(where + "it holds a " + kind_name(root->kind) + ", expected a dict of tensors");
  }
  PyRef dict = root;
  for (const char* nest : {"state_dict", "model"}) {
    const PyRef* inner = dict_get(root, nest);
    if (inner && (*inner)->kind == PyObj::Kind::kDict) {
      dict = *inner;
      break;
    }
  }
  StateDict sd;
  sd.reserve(dict->entries.size());
  for (const auto& kv : dict->entries) {
    if (kv.first->kind != PyObj::Kind::kStr) {
      throw IoError(where + "a key is a " + kind_name(kv.first->kind) + ", expected str");
    }
    if (kv.second->kind != PyObj::Kind::kTensor) {
      throw IoError(where + "entry '" + kv.first->s + "' is a " + kind_name(kv.second->kind) +
                    ", expected a tensor (a dict of weights, or a dict nesting one under "
                    "\"state_dict\" or \"model\")");
    }
    sd.emplace_back(kv.first->s, kv.second->tensor);
  }
  return sd;
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
