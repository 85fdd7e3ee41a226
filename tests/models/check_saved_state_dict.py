"""Checks that Python's torch.load reads a file written by vc::app::save_state_dict.
Usage: /usr/bin/python3 check_saved_state_dict.py FILE  (expects the dict the C++ test wrote)"""
import sys

import torch

sd = torch.load(sys.argv[1])
assert list(sd.keys()) == ["a.weight", "a.count"], list(sd.keys())
assert torch.equal(sd["a.weight"], torch.arange(6, dtype=torch.float32).reshape(2, 3)), sd
assert sd["a.count"].dtype == torch.int64 and sd["a.count"].item() == 42, sd
print("ok")
