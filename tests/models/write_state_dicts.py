"""Writes the torch.save files read_state_dict must understand, plus a manifest to check them.

Usage: /usr/bin/python3 write_state_dicts.py OUT_DIR
  resnet18.pt          torchvision resnet18().state_dict() (an OrderedDict, zip format)
  resnet18.txt         "name dtype d0,d1,.. sum" per entry, in order
  plain.pt             a plain dict: float/double/half/bool/int64 tensors, a strided view
                       sharing its storage, a 0-dim tensor, an empty tensor
  plain.txt            manifest of plain.pt
  plain_proto4.pt      plain.pt's dict saved with pickle_protocol=4
  ckpt_model.pt        {"model": {...plain...}, "epoch": 3, "config": "x: 1"}
  ckpt_state_dict.pt   {"state_dict": OrderedDict(...plain...), "optimizer": {...}}
  legacy.pt            plain dict, _use_new_zipfile_serialization=False
  whole_module.pt      torch.save(nn.Linear(2, 3)) (a pickled module, not a state dict)
  not_tensor.pt        {"a": tensor, "b": 3}
"""
import collections
import sys

import torch
import torchvision

torch.set_num_threads(2)
out = sys.argv[1]
torch.manual_seed(0)


def manifest(path, sd):
    with open(path, "w") as f:
        for k, t in sd.items():
            shape = ",".join(str(d) for d in t.shape)
            f.write(f"{k} {str(t.dtype).replace('torch.', '')} {shape} "
                    f"{t.double().sum().item():.17g}\n")


model = torchvision.models.resnet18()
with torch.no_grad():
    for name, buf in model.named_buffers():
        if name.endswith("running_mean"):
            buf.normal_()
        elif name.endswith("num_batches_tracked"):
            buf.fill_(7)
sd = model.state_dict()
torch.save(sd, f"{out}/resnet18.pt")
manifest(f"{out}/resnet18.txt", sd)

base = torch.arange(20, dtype=torch.float32) * 0.5
plain = {
    "w.float": torch.randn(3, 4),
    "w.double": torch.randn(5, dtype=torch.float64),
    "w.half": torch.randn(2, 2).half(),
    "w.bool": torch.tensor([True, False, True]),
    "w.long": torch.tensor([1, -2, 3_000_000_000]),
    "view.strided": base[2:14:3],  # offset 2, stride 3, shares base's storage
    "view.base": base,
    "scalar": torch.tensor(2.5),
    "empty": torch.zeros(0, 4),
    "transposed": torch.randn(3, 2).t(),
}
torch.save(plain, f"{out}/plain.pt")
torch.save(plain, f"{out}/plain_proto4.pt", pickle_protocol=4)
manifest(f"{out}/plain.txt", plain)
torch.save({"model": plain, "epoch": 3, "config": "x: 1"}, f"{out}/ckpt_model.pt")
torch.save({"state_dict": collections.OrderedDict(plain), "optimizer": {"lr": 0.1}},
           f"{out}/ckpt_state_dict.pt")
torch.save(plain, f"{out}/legacy.pt", _use_new_zipfile_serialization=False)
torch.save(torch.nn.Linear(2, 3), f"{out}/whole_module.pt")
torch.save({"a": torch.ones(2), "b": 3}, f"{out}/not_tensor.pt")
