"""torchrun (python -m torch.distributed.run) for integration_distributed_test.

Debian's python3-torch 1.13 on Python 3.11 cannot start workers: Std.from_str returns None
for every value (Python 3.11 changed `in` for Flag enums), and to_map() fails with
"'NoneType' object has no attribute 'get'". When that bug is present, this shim replaces
Std.from_str with the intended parser and runs torchrun's main() unchanged; with a working
torchrun it only runs main(). Arguments are torchrun's.
"""
import sys

from torch.distributed.elastic.multiprocessing import api


def _from_str(cls, vm):
    if vm.isdigit():
        return cls(int(vm))
    return {int(k): cls(int(v)) for k, v in (p.split(":") for p in vm.split(","))}


if api.Std.from_str("0") is None:
    api.Std.from_str = classmethod(_from_str)

if __name__ == "__main__":
    from torch.distributed.run import main

    sys.argv[0] = "torchrun"
    main()
