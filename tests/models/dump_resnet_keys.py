"""Writes <out_dir>/resnet<depth>_keys.txt: one "name d0,d1,..." line per torchvision state_dict
entry, in order. Usage: /usr/bin/python3 dump_resnet_keys.py OUT_DIR DEPTH [DEPTH ...]"""
import sys

import torch
import torchvision

torch.set_num_threads(2)
out_dir = sys.argv[1]
for depth in sys.argv[2:]:
    model = getattr(torchvision.models, "resnet" + depth)()
    with open(f"{out_dir}/resnet{depth}_keys.txt", "w") as f:
        for name, t in model.state_dict().items():
            f.write(name + " " + ",".join(str(d) for d in t.shape) + "\n")
