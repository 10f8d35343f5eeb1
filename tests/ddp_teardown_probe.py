"""`tcli` for tests/test_distributed.py, reporting how many DistributedDataParallel wrappers are still
alive when the process group is destroyed (0 expected: one alive then is freed only during interpreter
finalisation, where gloo can abort the process)."""

import gc
import sys

from torch.nn.parallel import DistributedDataParallel

from translate_cli.cli import main
from translate_cli.core.train import distributed

_teardown = distributed.teardown


def teardown(group):
    alive = sum(isinstance(o, DistributedDataParallel) for o in gc.get_objects())
    print(f"rank {group.rank}: DDP wrappers alive at teardown: {alive}", file=sys.stderr, flush=True)
    _teardown(group)


distributed.teardown = teardown
main()
