// The pickle interpreter (see pickle.h).
//
// Why our own: LibTorch 1.13's torch::pickle_load / torch::jit::Unpickler turn
// `collections.OrderedDict` (which every `model.state_dict()` is) into None and then fail on
// SETITEMS, they do not implement POP, and they know nothing of numpy. The subset of pickle that
// torch.save, Paddle's fluid.save and cPickle'd numpy data produce is small, so it is
// interpreted here: containers, scalars, strings, memo, GLOBAL/STACK_GLOBAL + REDUCE/NEWOBJ for
// the few callables listed in pickle.h, BUILD (numpy __setstate__; the state of dicts such as the
// OrderedDict `_metadata` is dropped) and BINPERSID through the caller's loader.
#include "datareader/pickle.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "datareader/errors.h"

namespace vc::data::pickle {

// ---------------------------------------------------------------------------------------------
// Value
const char* Value::kind_name() const {
  switch (kind) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kStr:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kTuple:
      return "tuple";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kTensor:
      return "tensor";
    case Kind::kGlobal:
      return "class/function";
    case Kind::kObject:
      return "object";
  }
  return "?";
}

const Value* Value::find(const std::string& key) const {
  if (kind != Kind::kDict) return nullptr;
  for (const auto& kv : entries) {
    if (kv.first->is_string() && kv.first->s == key) return kv.second.get();
  }
  return nullptr;
}

namespace {
[[noreturn]] void wrong_kind(const std::string& what, const Value& v, const char* expected) {
  throw PickleError(what + " is a " + v.kind_name() + ", expected " + expected);
}
}  // namespace

int64_t Value::as_int(const std::string& what) const {
  if (kind == Kind::kInt) return i;
  if (kind == Kind::kBool) return b ? 1 : 0;
  wrong_kind(what, *this, "an int");
}
double Value::as_number(const std::string& what) const {
  if (kind == Kind::kFloat) return f;
  if (kind == Kind::kInt) return static_cast<double>(i);
  wrong_kind(what, *this, "a number");
}
const std::string& Value::as_string(const std::string& what) const {
  if (!is_string()) wrong_kind(what, *this, "a string");
  return s;
}
const at::Tensor& Value::as_tensor(const std::string& what) const {
  if (kind != Kind::kTensor) wrong_kind(what, *this, "a tensor / numpy array");
  return tensor;
}
const std::vector<ValuePtr>& Value::as_sequence(const std::string& what) const {
  if (!is_sequence()) wrong_kind(what, *this, "a tuple or list");
  return items;
}

// ---------------------------------------------------------------------------------------------
namespace {

using Kind = Value::Kind;

ValuePtr make(Kind k) {
  auto o = std::make_shared<Value>();
  o->kind = k;
  return o;
}
ValuePtr make_int(int64_t v) {
  auto o = make(Kind::kInt);
  o->i = v;
  return o;
}
ValuePtr make_bool(bool v) {
  auto o = make(Kind::kBool);
  o->b = v;
  return o;
}
ValuePtr make_str(Kind k, std::string s) {
  auto o = make(k);
  o->s = std::move(s);
  return o;
}
ValuePtr make_tensor(torch::Tensor t, bool from_numpy) {
  auto o = make(Kind::kTensor);
  o->tensor = std::move(t);
  o->from_numpy = from_numpy;
  return o;
}

bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// UTF-8 -> code points -> one byte each (the latin1 encoding Python 3 uses to pickle bytes at
// protocol <= 2: `_codecs.encode(str(b, 'latin1'), 'latin1')`).
std::string utf8_to_latin1(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (size_t k = 0; k < in.size();) {
    const auto c = static_cast<uint8_t>(in[k]);
    uint32_t cp = 0;
    size_t n = 0;
    if (c < 0x80) {
      cp = c;
      n = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      n = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      n = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      n = 4;
    } else {
      throw PickleError("invalid UTF-8 in a latin1-encoded bytes object");
    }
    if (k + n > in.size()) throw PickleError("invalid UTF-8 in a latin1-encoded bytes object");
    for (size_t m = 1; m < n; ++m) cp = (cp << 6) | (static_cast<uint8_t>(in[k + m]) & 0x3F);
    if (cp > 0xFF) throw PickleError("bytes object encoded with a code point above 255");
    out.push_back(static_cast<char>(cp));
    k += n;
  }
  return out;
}

// ---- numpy
struct NumpyType {
  torch::ScalarType dtype;
  size_t item_size;    // bytes per element in the file
  bool widen = false;  // unsigned 16/32-bit read into the next wider signed type
};

// `code` as numpy.dtype(...) receives it: "f4", "<f4", "float32", "i8", "b1", "?", "u1", ...
NumpyType numpy_type(const std::string& code_in) {
  std::string code = code_in;
  if (!code.empty() && (code[0] == '<' || code[0] == '>' || code[0] == '|' || code[0] == '=')) {
    code = code.substr(1);
  }
  static const std::map<std::string, NumpyType> table = {
      {"b1", {torch::kBool, 1}},
      {"?", {torch::kBool, 1}},
      {"bool", {torch::kBool, 1}},
      {"i1", {torch::kChar, 1}},
      {"int8", {torch::kChar, 1}},
      {"u1", {torch::kByte, 1}},
      {"uint8", {torch::kByte, 1}},
      {"i2", {torch::kShort, 2}},
      {"int16", {torch::kShort, 2}},
      {"i4", {torch::kInt, 4}},
      {"int32", {torch::kInt, 4}},
      {"i8", {torch::kLong, 8}},
      {"int64", {torch::kLong, 8}},
      {"f2", {torch::kHalf, 2}},
      {"float16", {torch::kHalf, 2}},
      {"f4", {torch::kFloat, 4}},
      {"float32", {torch::kFloat, 4}},
      {"f8", {torch::kDouble, 8}},
      {"float64", {torch::kDouble, 8}},
      {"c8", {torch::kComplexFloat, 8}},
      {"complex64", {torch::kComplexFloat, 8}},
      {"c16", {torch::kComplexDouble, 16}},
      {"complex128", {torch::kComplexDouble, 16}},
      {"u2", {torch::kInt, 2, true}},
      {"uint16", {torch::kInt, 2, true}},
      {"u4", {torch::kLong, 4, true}},
      {"uint32", {torch::kLong, 4, true}},
  };
  auto it = table.find(code);
  if (it == table.end()) {
    throw PickleError("unsupported numpy dtype '" + code_in +
                      "' (supported: bool, int8/16/32/64, uint8/16/32, float16/32/64, "
                      "complex64/128)");
  }
  return it->second;
}

struct Dtype {
  NumpyType type;
  bool big_endian = false;
};

// A numpy.dtype object: constructed with ("f4", align, copy), byte order from its BUILD state
// (version, byteorder, ...). The byte order may also be in the code itself ("<f4").
Dtype dtype_of(const Value& v, const std::string& what) {
  if (v.kind != Kind::kObject || v.s != "numpy.dtype" || v.items.empty()) {
    wrong_kind(what, v, "a numpy.dtype");
  }
  const std::string& code = v.items[0]->as_string(what + " code");
  Dtype d{numpy_type(code)};
  char order = code.empty() ? '|' : code[0];
  if (v.state && v.state->is_sequence() && v.state->items.size() >= 2 &&
      v.state->items[1]->is_string() && !v.state->items[1]->s.empty()) {
    order = v.state->items[1]->s[0];
  }
  d.big_endian = order == '>' || (order == '=' && !host_is_little_endian());
  return d;
}

// Raw element bytes (numpy's tobytes() in `fortran` or C order) -> a contiguous tensor.
torch::Tensor tensor_from_raw(const std::string& raw, const std::vector<int64_t>& shape,
                              const Dtype& dt, bool fortran) {
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) throw PickleError("numpy array with a negative dimension");
    numel *= d;
  }
  const size_t item = dt.type.item_size;
  if (raw.size() != static_cast<size_t>(numel) * item) {
    throw PickleError("numpy array data has " + std::to_string(raw.size()) + " bytes, its shape " +
                      "and dtype need " + std::to_string(numel * static_cast<int64_t>(item)));
  }
  std::string bytes = raw;
  const bool swap = dt.big_endian == host_is_little_endian() && item > 1;
  if (swap) {
    // Complex values swap each of their two halves.
    const size_t unit =
        (dt.type.dtype == torch::kComplexFloat || dt.type.dtype == torch::kComplexDouble) ? item / 2
                                                                                          : item;
    for (size_t k = 0; k + unit <= bytes.size(); k += unit) {
      std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(k),
                   bytes.begin() + static_cast<std::ptrdiff_t>(k + unit));
    }
  }
  std::vector<int64_t> file_shape = shape;
  if (fortran) std::reverse(file_shape.begin(), file_shape.end());
  torch::Tensor t;
  if (dt.type.widen) {
    // uint16 -> int32, uint32 -> int64 (little-endian now).
    t = torch::empty({numel}, torch::TensorOptions().dtype(dt.type.dtype));
    for (int64_t k = 0; k < numel; ++k) {
      uint64_t v = 0;
      for (size_t m = 0; m < item; ++m) {
        v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[k * item + m])) << (8 * m);
      }
      if (dt.type.dtype == torch::kInt) {
        t.data_ptr<int32_t>()[k] = static_cast<int32_t>(v);
      } else {
        t.data_ptr<int64_t>()[k] = static_cast<int64_t>(v);
      }
    }
    t = t.reshape(file_shape);
  } else {
    t = torch::empty(file_shape, torch::TensorOptions().dtype(dt.type.dtype));
    if (!bytes.empty()) std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  }
  if (fortran && shape.size() > 1) {
    std::vector<int64_t> perm(shape.size());
    for (size_t k = 0; k < perm.size(); ++k) perm[k] = static_cast<int64_t>(perm.size() - 1 - k);
    t = t.permute(perm).contiguous();
  }
  return t;
}

std::vector<int64_t> int_tuple(const Value& o, const std::string& what) {
  std::vector<int64_t> out;
  for (const auto& e : o.as_sequence(what)) out.push_back(e->as_int(what + " element"));
  return out;
}

// ndarray.__setstate__(state): state = ([version,] shape, dtype, is_fortran, rawdata).
void build_ndarray(Value& obj, const Value& state) {
  const auto& st = state.as_sequence("numpy array state");
  size_t k = 0;
  if (st.size() == 5) k = 1;  // version first
  if (st.size() - k != 4) throw PickleError("numpy array state has an unexpected layout");
  const std::vector<int64_t> shape = int_tuple(*st[k], "numpy array shape");
  const Dtype dt = dtype_of(*st[k + 1], "numpy array dtype");
  const bool fortran = st[k + 2]->as_int("numpy array order flag") != 0;
  const Value& raw = *st[k + 3];
  if (!raw.is_string()) {
    throw PickleError(std::string("numpy array data is a ") + raw.kind_name() +
                      " (object arrays are not supported)");
  }
  obj.tensor = tensor_from_raw(raw.s, shape, dt, fortran);
  obj.kind = Kind::kTensor;
  obj.from_numpy = true;
  obj.s.clear();
  obj.items.clear();
}

class Machine {
 public:
  Machine(const char* data, size_t size, const PersistentLoad& persistent_load)
      : data_(data), size_(size), persistent_load_(persistent_load) {}

  ValuePtr run() {
    while (true) {
      const size_t at = pos_;
      const uint8_t op = u8();
      switch (op) {
        case 0x80:  // PROTO
          u8();
          break;
        case 0x95:  // FRAME (length; frames are contiguous in the buffer)
          bytes(8);
          break;
        case '.':  // STOP
          if (stack_.size() != 1) throw PickleError("malformed pickle: stack size at STOP");
          return stack_.back();
        case '(':  // MARK
          marks_.push_back(stack_.size());
          break;
        case '0':  // POP
          pop();
          break;
        case '1':  // POP_MARK
          pop_mark();
          break;
        case '2':  // DUP
          push(top());
          break;
        case 'N':  // NONE
          push(make(Kind::kNone));
          break;
        case 0x88:  // NEWTRUE
        case 0x89:  // NEWFALSE
          push(make_bool(op == 0x88));
          break;
        case 'J':  // BININT
          push(make_int(le_signed(4)));
          break;
        case 'K':  // BININT1
          push(make_int(u8()));
          break;
        case 'M':  // BININT2
          push(make_int(static_cast<int64_t>(le_unsigned(2))));
          break;
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
            push(make_bool(line == "01"));
          } else {
            push(make_int(std::stoll(line)));
          }
        } break;
        case 'L': {  // LONG (text, "123L")
          std::string line = read_line();
          if (!line.empty() && line.back() == 'L') line.pop_back();
          push(make_int(std::stoll(line)));
        } break;
        case 'F': {  // FLOAT (text)
          auto o = make(Kind::kFloat);
          o->f = std::stod(read_line());
          push(o);
        } break;
        case 'G': {  // BINFLOAT, big-endian double
          const char* p = bytes(8);
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | static_cast<uint8_t>(p[k]);
          auto o = make(Kind::kFloat);
          std::memcpy(&o->f, &bits, sizeof(double));
          push(o);
        } break;
        case 'X':  // BINUNICODE
          push(make_str(Kind::kStr, str(le_unsigned(4))));
          break;
        case 0x8c:  // SHORT_BINUNICODE
          push(make_str(Kind::kStr, str(u8())));
          break;
        case 0x8d:  // BINUNICODE8
          push(make_str(Kind::kStr, str(le_unsigned(8))));
          break;
        case 'T':  // BINSTRING (Python 2 str: raw bytes)
          push(make_str(Kind::kStr, str(le_unsigned(4))));
          break;
        case 'U':  // SHORT_BINSTRING
          push(make_str(Kind::kStr, str(u8())));
          break;
        case 'B':  // BINBYTES
          push(make_str(Kind::kBytes, str(le_unsigned(4))));
          break;
        case 'C':  // SHORT_BINBYTES
          push(make_str(Kind::kBytes, str(u8())));
          break;
        case 0x8e:  // BINBYTES8
          push(make_str(Kind::kBytes, str(le_unsigned(8))));
          break;
        case 0x96:  // BYTEARRAY8 (protocol 5: numpy's in-band data)
          push(make_str(Kind::kBytes, str(le_unsigned(8))));
          break;
        case ')':  // EMPTY_TUPLE
          push(make(Kind::kTuple));
          break;
        case 't': {  // TUPLE
          auto o = make(Kind::kTuple);
          o->items = pop_mark();
          push(o);
        } break;
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          const size_t n = op - 0x84;
          if (stack_.size() < n) throw PickleError("malformed pickle: stack underflow");
          auto o = make(Kind::kTuple);
          o->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push(o);
        } break;
        case ']':  // EMPTY_LIST
          push(make(Kind::kList));
          break;
        case 'l': {  // LIST
          auto o = make(Kind::kList);
          o->items = pop_mark();
          push(o);
        } break;
        case 'a': {  // APPEND
          ValuePtr v = pop();
          expect(top(), Kind::kList, "APPEND")->items.push_back(v);
        } break;
        case 'e': {  // APPENDS
          std::vector<ValuePtr> vs = pop_mark();
          auto& items = expect(top(), Kind::kList, "APPENDS")->items;
          items.insert(items.end(), vs.begin(), vs.end());
        } break;
        case '}':  // EMPTY_DICT
          push(make(Kind::kDict));
          break;
        case 'd': {  // DICT
          std::vector<ValuePtr> kv = pop_mark();
          auto o = make(Kind::kDict);
          set_items(o, kv);
          push(o);
        } break;
        case 's': {  // SETITEM
          ValuePtr v = pop();
          ValuePtr k = pop();
          set_items(expect(top(), Kind::kDict, "SETITEM"), {k, v});
        } break;
        case 'u': {  // SETITEMS
          std::vector<ValuePtr> kv = pop_mark();
          set_items(expect(top(), Kind::kDict, "SETITEMS"), kv);
        } break;
        case 'c': {  // GLOBAL "module\nname\n"
          std::string module = read_line();
          std::string name = read_line();
          push(make_str(Kind::kGlobal, module + "." + name));
        } break;
        case 0x93: {  // STACK_GLOBAL
          ValuePtr name = pop();
          ValuePtr module = pop();
          push(make_str(Kind::kGlobal, module->as_string("STACK_GLOBAL module") + "." +
                                           name->as_string("STACK_GLOBAL name")));
        } break;
        case 'q':  // BINPUT
          memo_[u8()] = top();
          break;
        case 'r':  // LONG_BINPUT
          memo_[le_unsigned(4)] = top();
          break;
        case 'p':  // PUT
          memo_[std::stoull(read_line())] = top();
          break;
        case 0x94:  // MEMOIZE
          memo_[memo_.size()] = top();
          break;
        case 'h':  // BINGET
          push(memo(u8()));
          break;
        case 'j':  // LONG_BINGET
          push(memo(le_unsigned(4)));
          break;
        case 'g':  // GET
          push(memo(std::stoull(read_line())));
          break;
        case 'R':     // REDUCE: callable(*args)
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
          ValuePtr args = pop();
          ValuePtr callable = pop();
          push(call(*callable, *args));
        } break;
        case 'b': {  // BUILD: obj.__setstate__(state)
          ValuePtr state = pop();
          build(top(), state);
        } break;
        case 'Q':  // BINPERSID
          push(load_persistent(pop()));
          break;
        default: {
          std::ostringstream msg;
          msg << "unsupported pickle opcode 0x" << std::hex << static_cast<int>(op) << std::dec
              << " at byte " << at;
          throw PickleError(msg.str());
        }
      }
    }
  }

 private:
  // ---- raw reads
  const char* bytes(size_t n) {
    if (n > size_ - pos_) throw PickleError("truncated pickle (the data ends early)");
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
    if (n > size_ - pos_) throw PickleError("truncated pickle (string length)");
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
  void push(ValuePtr o) {
    // Every value that can hold others is remembered (weakly), so that has_cycle / break_cycles
    // also see containers no longer on the stack or in the memo (a self-holding list popped,
    // or its memo slot overwritten, would otherwise leak unseen).
    if (o && o->kind != Kind::kNone && o->kind != Kind::kBool && o->kind != Kind::kInt &&
        o->kind != Kind::kFloat && o->kind != Kind::kStr && o->kind != Kind::kBytes) {
      containers_.push_back(o);
    }
    stack_.push_back(std::move(o));
  }
  ValuePtr pop() {
    if (stack_.empty()) throw PickleError("malformed pickle: stack underflow");
    ValuePtr o = std::move(stack_.back());
    stack_.pop_back();
    return o;
  }
  const ValuePtr& top() const {
    if (stack_.empty()) throw PickleError("malformed pickle: stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) throw PickleError("malformed pickle: MARK missing");
    const size_t start = marks_.back();
    marks_.pop_back();
    if (start > stack_.size()) throw PickleError("malformed pickle: MARK beyond stack");
    std::vector<ValuePtr> out(stack_.begin() + static_cast<std::ptrdiff_t>(start), stack_.end());
    stack_.resize(start);
    return out;
  }
  ValuePtr memo(uint64_t id) const {
    auto it = memo_.find(id);
    if (it == memo_.end()) {
      throw PickleError("malformed pickle: memo " + std::to_string(id) + " unset");
    }
    return it->second;
  }
  static const ValuePtr& expect(const ValuePtr& o, Kind k, const char* op) {
    if (o->kind != k) {
      throw PickleError(std::string(op) + " applied to a " + o->kind_name() +
                        " (unsupported Python object in the file)");
    }
    return o;
  }
  static void set_items(const ValuePtr& dict, const std::vector<ValuePtr>& kv) {
    if (kv.size() % 2 != 0) throw PickleError("malformed pickle: odd SETITEMS");
    for (size_t k = 0; k < kv.size(); k += 2) dict->entries.emplace_back(kv[k], kv[k + 1]);
  }

  // ---- BUILD
  static void build(const ValuePtr& obj, const ValuePtr& state) {
    if (obj->kind == Kind::kObject && obj->s == "numpy.ndarray") {
      build_ndarray(*obj, *state);
    } else if (obj->kind == Kind::kObject) {
      obj->state = state;  // numpy.dtype: (version, byteorder, ...)
    }
    // dict / OrderedDict (_metadata) / tensor state: dropped.
  }

  // ---- callables
  ValuePtr call(const Value& callable, const Value& args) {
    if (callable.kind != Kind::kGlobal) {
      throw PickleError(std::string("cannot call a ") + callable.kind_name());
    }
    const std::string& name = callable.s;
    const std::vector<ValuePtr>& a = args.as_sequence("arguments of " + name);
    if (name == "collections.OrderedDict" || name == "builtins.dict" ||
        name == "__builtin__.dict") {
      auto d = make(Kind::kDict);
      if (!a.empty()) {  // OrderedDict([(k, v), ...])
        for (const auto& pair : a.at(0)->as_sequence(name + " argument")) {
          if (!pair->is_sequence() || pair->items.size() != 2) {
            throw PickleError(name + " argument is not a sequence of pairs");
          }
          d->entries.emplace_back(pair->items[0], pair->items[1]);
        }
      }
      return d;
    }
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      return rebuild_tensor(name, a);
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
      return call(*a[0], *a[2]);
    }
    if (name == "numpy.core.multiarray._reconstruct" ||
        name == "numpy._core.multiarray._reconstruct") {
      // (ndarray, (0,), b'b'): an empty array that BUILD fills in.
      return make_str(Kind::kObject, "numpy.ndarray");
    }
    if (name == "numpy.dtype") {  // ("f4", align, copy); BUILD adds the byte order
      if (a.empty()) throw PickleError("malformed numpy.dtype arguments");
      auto d = make_str(Kind::kObject, "numpy.dtype");
      d->items = a;
      numpy_type(a[0]->as_string("numpy.dtype code"));  // unsupported dtypes fail here
      return d;
    }
    if (name == "numpy.core.multiarray.scalar" || name == "numpy._core.multiarray.scalar") {
      if (a.size() != 2) throw PickleError("malformed numpy scalar arguments");
      const Dtype dt = dtype_of(*a[0], "numpy scalar dtype");
      return make_tensor(tensor_from_raw(a[1]->as_string("numpy scalar data"), {}, dt, false),
                         true);
    }
    if (name == "numpy.core.numeric._frombuffer" || name == "numpy._core.numeric._frombuffer") {
      // (buffer, dtype, shape, order)
      if (a.size() != 4) throw PickleError("malformed numpy _frombuffer arguments");
      const Dtype dt = dtype_of(*a[1], "numpy array dtype");
      const bool fortran = a[3]->is_string() && a[3]->s == "F";
      return make_tensor(tensor_from_raw(a[0]->as_string("numpy array data"),
                                         int_tuple(*a[2], "numpy array shape"), dt, fortran),
                         true);
    }
    if (name == "_codecs.encode") {  // Python 3 bytes at protocol <= 2: (str, "latin1")
      if (a.size() != 2) throw PickleError("malformed _codecs.encode arguments");
      const std::string& encoding = a[1]->as_string("_codecs.encode encoding");
      const std::string& text = a[0]->as_string("_codecs.encode text");
      if (encoding == "latin1" || encoding == "latin-1" || encoding == "iso-8859-1") {
        return make_str(Kind::kBytes, utf8_to_latin1(text));
      }
      if (encoding == "utf-8" || encoding == "utf8" || encoding == "ascii") {
        return make_str(Kind::kBytes, text);
      }
      throw PickleError("unsupported _codecs.encode encoding '" + encoding + "'");
    }
    if (name == "builtins.bytes" || name == "__builtin__.bytes" || name == "builtins.bytearray" ||
        name == "__builtin__.bytearray") {
      if (a.empty()) return make(Kind::kBytes);
      if (a[0]->is_string()) return make_str(Kind::kBytes, a[0]->s);
      throw PickleError("unsupported " + name + " arguments");
    }
    throw PickleError("unsupported Python object '" + name +
                      "' (expected data: tensors, numpy arrays, numbers, strings and "
                      "containers; was a whole module, a TorchScript archive or a custom class "
                      "saved?)");
  }

  // (storage, storage_offset, size, stride, [requires_grad, backward_hooks, metadata])
  static ValuePtr rebuild_tensor(const std::string& name, const std::vector<ValuePtr>& a) {
    if (a.size() < 4 || a[0]->kind != Kind::kTensor || a[1]->kind != Kind::kInt) {
      throw PickleError("malformed " + name + " arguments");
    }
    const torch::Tensor& storage = a[0]->tensor;
    const std::vector<int64_t> size = int_tuple(*a[2], "tensor size");
    const std::vector<int64_t> stride = int_tuple(*a[3], "tensor stride");
    int64_t extent = a[1]->i + 1;  // last element touched + 1 must fit the storage
    bool empty = false;
    for (size_t d = 0; d < size.size(); ++d) {
      if (size[d] < 0) throw PickleError("tensor with a negative size");
      if (size[d] == 0) empty = true;
      if (d < stride.size()) extent += (size[d] - 1) * stride[d];
    }
    if (size.size() != stride.size() || a[1]->i < 0 || (!empty && extent > storage.numel())) {
      throw PickleError("tensor view does not fit its storage");
    }
    return make_tensor(
        torch::empty({0}, storage.options()).set_(storage.storage(), a[1]->i, size, stride), false);
  }

  ValuePtr load_persistent(const ValuePtr& pid) {
    if (!persistent_load_) {
      throw PickleError(
          "the pickle references external data (persistent id) and no loader was "
          "given");
    }
    ValuePtr out = persistent_load_(*pid);
    if (!out) throw PickleError("persistent id could not be resolved");
    return out;
  }

  const char* data_;
  size_t size_;
  size_t pos_ = 0;
  const PersistentLoad& persistent_load_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  std::vector<std::weak_ptr<Value>> containers_;  // every container pushed (see push)

 public:
  // Containers hold shared pointers, so a container that holds itself (a legal pickle: DUP or
  // the memo + APPEND, e.g. `l = []; l.append(l)`) would never be freed. Such structures are
  // refused (no data file the toolkit reads has them): true when a cycle is reachable from any
  // container pushed so far (on the stack, in the memo, or one nothing refers to any more).
  bool has_cycle() const {
    std::unordered_map<const Value*, int> color;  // 1 = on the DFS path, 2 = done
    std::vector<std::pair<const Value*, size_t>> path;
    auto children = [](const Value* v) {
      std::vector<const Value*> c;
      for (const auto& x : v->items) c.push_back(x.get());
      for (const auto& kv : v->entries) {
        c.push_back(kv.first.get());
        c.push_back(kv.second.get());
      }
      if (v->state) c.push_back(v->state.get());
      return c;
    };
    auto visit = [&](const Value* root) {
      if (!root || color[root] == 2) return false;
      std::vector<std::pair<const Value*, std::vector<const Value*>>> st;
      color[root] = 1;
      st.emplace_back(root, children(root));
      while (!st.empty()) {
        if (st.back().second.empty()) {
          color[st.back().first] = 2;
          st.pop_back();
          continue;
        }
        const Value* c = st.back().second.back();
        st.back().second.pop_back();
        if (!c) continue;
        int& k = color[c];
        if (k == 1) return true;
        if (k == 0) {
          k = 1;
          st.emplace_back(c, children(c));
        }
      }
      return false;
    };
    // Everything on the stack or in the memo was pushed, so containers_ covers them too.
    for (const auto& w : containers_) {
      const ValuePtr v = w.lock();
      if (v && visit(v.get())) return true;
    }
    return false;
  }
  // Drops every container edge reachable from any container ever pushed, so that cycles built
  // before an error (or refused by has_cycle) are freed with the machine.
  void break_cycles() {
    std::vector<ValuePtr> todo;
    for (const auto& w : containers_) {
      if (ValuePtr v = w.lock()) todo.push_back(std::move(v));
    }
    std::unordered_map<const Value*, bool> seen;
    while (!todo.empty()) {
      ValuePtr v = std::move(todo.back());
      todo.pop_back();
      if (!v || seen[v.get()]) continue;
      seen[v.get()] = true;
      for (auto& x : v->items) todo.push_back(std::move(x));
      for (auto& kv : v->entries) {
        todo.push_back(std::move(kv.first));
        todo.push_back(std::move(kv.second));
      }
      if (v->state) todo.push_back(std::move(v->state));
      v->items.clear();
      v->entries.clear();
      v->state.reset();
    }
  }
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

// ('storage', storage_type, key, location, numel) -> 1-D tensor over the record data/<key>.
class TorchStorages {
 public:
  explicit TorchStorages(caffe2::serialize::PyTorchStreamReader& archive) : archive_(archive) {}

  ValuePtr operator()(const Value& pid) {
    const auto& t = pid.items;
    if (pid.kind != Kind::kTuple || t.size() < 5 || t[0]->s != "storage" ||
        t[1]->kind != Kind::kGlobal || t[2]->kind != Kind::kStr || t[4]->kind != Kind::kInt) {
      throw PickleError("unsupported persistent id (expected a tensor storage)");
    }
    const std::string& key = t[2]->s;
    auto cached = storages_.find(key);
    if (cached != storages_.end()) return cached->second;
    const c10::optional<torch::ScalarType> dtype = storage_dtype(t[1]->s);
    if (!dtype) throw PickleError("unsupported storage type '" + t[1]->s + "'");
    const int64_t numel = t[4]->i;
    if (numel < 0) throw PickleError("storage with a negative size");
    const auto options = torch::TensorOptions().dtype(*dtype);
    torch::Tensor tensor;
    if (numel == 0) {
      tensor = torch::empty({0}, options);
    } else {
      const std::string record = "data/" + key;
      if (!archive_.hasRecord(record)) {
        throw PickleError("archive lacks tensor record '" + record + "'");
      }
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
      tensor = torch::empty({0}, options).set_(storage);
    }
    ValuePtr o = make_tensor(tensor, false);
    storages_[key] = o;
    return o;
  }

 private:
  caffe2::serialize::PyTorchStreamReader& archive_;
  std::unordered_map<std::string, ValuePtr> storages_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
ValuePtr unpickle(const char* data, size_t size, const PersistentLoad& persistent_load) {
  Machine m(data, size, persistent_load);
  try {
    ValuePtr out = m.run();
    if (m.has_cycle()) {
      throw PickleError(
          "malformed pickle: a container holds itself (recursive structures are not supported)");
    }
    return out;
  } catch (...) {
    m.break_cycles();
    try {
      throw;
    } catch (const PickleError&) {
      throw;
    } catch (const c10::Error& e) {
      throw PickleError(e.what_without_backtrace());
    } catch (const std::exception& e) {  // std::stoll etc. on corrupt text opcodes
      throw PickleError(std::string("malformed pickle: ") + e.what());
    }
  }
}

ValuePtr read_pickle_file(const std::string& path) {
  const std::string where = "cannot read pickle '" + path + "': ";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(where + "file cannot be opened");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw DataError(where + "read failed");
  if (data.empty()) throw DataError(where + "the file is empty");
  try {
    return unpickle(data.data(), data.size());
  } catch (const PickleError& e) {
    throw DataError(where + e.what());
  }
}

ValuePtr read_torch_zip(const std::string& path) {
  const std::string where = "cannot read '" + path + "': ";
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw DataError(where + "file cannot be opened");
    char magic[2] = {0, 0};
    probe.read(magic, 2);
    if (probe.gcount() == 2 && static_cast<uint8_t>(magic[0]) == 0x80) {
      throw DataError(where +
                      "legacy (non-zip) torch.save format; re-save it with PyTorch >= 1.6 "
                      "(torch.save(obj, f) with the default _use_new_zipfile_serialization=True)");
    }
    if (probe.gcount() < 2 || magic[0] != 'P' || magic[1] != 'K') {
      throw DataError(where + "not a zip archive written by torch.save");
    }
  }
  try {
    caffe2::serialize::PyTorchStreamReader archive(path);
    if (!archive.hasRecord("data.pkl")) {
      throw PickleError("the archive has no data.pkl record (not written by torch.save)");
    }
    at::DataPtr pkl;
    size_t pkl_size = 0;
    std::tie(pkl, pkl_size) = archive.getRecord("data.pkl");
    TorchStorages storages(archive);
    return unpickle(static_cast<const char*>(pkl.get()), pkl_size,
                    [&](const Value& pid) { return storages(pid); });
  } catch (const PickleError& e) {
    throw DataError(where + e.what());
  } catch (const c10::Error& e) {
    throw DataError(where + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw DataError(where + e.what());
  }
}

}  // namespace vc::data::pickle
