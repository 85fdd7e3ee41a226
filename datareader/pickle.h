// A small Python pickle interpreter for the weight and feature files the toolkit reads:
// the zip archives torch.save writes (data.pkl + data/<key> storages), Paddle's .pdparams
// (a protocol-2 pickle of {name: numpy array}) and Python-2 cPickle files of lists/dicts of
// numpy arrays (the YouTube-8M .pkl features). It builds a plain value tree; numpy arrays and
// torch tensors both come out as CPU tensors. Only data is reconstructed: calling any Python
// callable other than the few containers, tensor and numpy rebuild functions below is an error
// naming it (a pickled module, an arbitrary class), so loading a file never runs code.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace vc::data::pickle {

/// The pickle stream itself is malformed or holds something this interpreter does not
/// reconstruct. File-level readers rethrow it as vc::data::DataError naming the file.
class PickleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Value;
using ValuePtr = std::shared_ptr<Value>;

/// One Python object. Containers hold shared pointers because pickles share objects (memo).
struct Value {
  enum class Kind {
    kNone,
    kBool,
    kInt,     // Python int that fits int64
    kFloat,   // Python float
    kStr,     // Python 3 str (UTF-8), or a Python 2 str (its raw bytes)
    kBytes,   // Python 3 bytes
    kTuple,   // items
    kList,    // items
    kDict,    // entries, insertion order (dict and collections.OrderedDict)
    kTensor,  // torch tensor, or numpy array / numpy scalar converted to a tensor (from_numpy)
    kGlobal,  // a class or function reference "module.name" not (yet) called
    kObject,  // an instance of a supported numpy class while it is being built (internal)
  };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  /// kStr / kBytes contents; kGlobal / kObject: the qualified class name "module.name".
  std::string s;
  std::vector<ValuePtr> items;
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;
  /// kTensor: always on the CPU; may be a strided view of a storage shared with other values.
  at::Tensor tensor;
  /// kTensor made from a numpy array or numpy scalar (as opposed to a torch tensor).
  bool from_numpy = false;
  /// kObject: the state BUILD gave it (internal).
  ValuePtr state;

  /// "None", "bool", "int", "float", "str", "bytes", "tuple", "list", "dict", "tensor",
  /// "class/function", "object".
  const char* kind_name() const;
  bool is(Kind k) const { return kind == k; }
  /// str or bytes (Python-2 str keys and Python-3 bytes keys are both "strings" here).
  bool is_string() const { return kind == Kind::kStr || kind == Kind::kBytes; }
  bool is_sequence() const { return kind == Kind::kTuple || kind == Kind::kList; }
  /// Dict entry whose key is the string `key` (str or bytes); nullptr if absent or not a dict.
  const Value* find(const std::string& key) const;

  // Checked accessors: throw PickleError "<what> is a <kind>, expected <kind>".
  int64_t as_int(const std::string& what) const;
  double as_number(const std::string& what) const;              // int or float
  const std::string& as_string(const std::string& what) const;  // str or bytes
  const at::Tensor& as_tensor(const std::string& what) const;
  const std::vector<ValuePtr>& as_sequence(const std::string& what) const;  // tuple or list
};

/// Resolves a BINPERSID persistent id (the tuple torch.save writes for each storage) to an
/// object; absent -> persistent ids are an error.
using PersistentLoad = std::function<ValuePtr(const Value& pid)>;

/// Interprets the pickle in `data[0, size)` (protocols 0-5 as far as data containers go):
/// None/bool/int/float/str/bytes/tuple/list/dict/OrderedDict; torch tensors
/// (torch._utils._rebuild_tensor_v2, _rebuild_parameter, storages via `persistent_load`);
/// numpy arrays (numpy.core.multiarray._reconstruct + numpy.dtype + __setstate__ with the raw
/// bytes as str or bytes, C or Fortran order, either byte order), numpy scalars and
/// numpy.core.numeric._frombuffer; bytes pickled at protocol <= 2 by Python 3 (_codecs.encode).
/// Numpy dtypes: bool, int8/16/32/64, uint8, float16/32/64, complex64/128; uint16/uint32 are
/// widened to int32/int64 (LibTorch has no such types); others are an error.
/// Throws PickleError on anything else.
ValuePtr unpickle(const char* data, size_t size, const PersistentLoad& persistent_load = nullptr);

/// A plain pickle file (pickle.dump, cPickle, Paddle's fluid.save .pdparams).
/// Throws vc::data::DataError naming the file.
ValuePtr read_pickle_file(const std::string& path);

/// The zip archive Python's torch.save writes (default since PyTorch 1.6): data.pkl with its
/// tensor storages read from the data/<key> records. Throws vc::data::DataError naming the file
/// (also for legacy non-zip torch.save files, with how to re-save them).
ValuePtr read_torch_zip(const std::string& path);

}  // namespace vc::data::pickle
