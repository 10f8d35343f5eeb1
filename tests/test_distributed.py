"""torchrun with two CPU processes (gloo) equals one process accumulating the same batches."""

import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

PROBE = Path(__file__).with_name("ddp_teardown_probe.py")  # the tcli CLI, reporting on teardown
COMMON = ["train.max_steps=6", "model.dropout=0", "train.eval_every=2", "train.eval_sentences=3", "train.threads=1",
          "train.log_every=1"]


def test_two_ranks_equal_one_process_accumulating_their_batches(tiny_project):
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(PROBE), "train", "c.yaml", "work_dir=runs/ddp", "train.accumulate=1", *COMMON],
                         cwd=tiny_project, capture_output=True, text=True, timeout=600)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "2 process(es)" in ddp.stderr
    # Both ranks freed DDP (its reducer holds the process group) before destroying the process group.
    for rank in (0, 1):
        assert f"rank {rank}: DDP wrappers alive at teardown: 0" in ddp.stderr, ddp.stderr[-3000:]
    single = subprocess.run([sys.executable, "-m", "translate_cli", "train", "c.yaml", "work_dir=runs/single",
                             "train.accumulate=2", *COMMON], cwd=tiny_project, capture_output=True, text=True,
                            timeout=600)
    assert single.returncode == 0, single.stderr
    ddp_weights = load_file(str(tiny_project / "runs/ddp/last/model.safetensors"))
    single_weights = load_file(str(tiny_project / "runs/single/last/model.safetensors"))
    assert ddp_weights.keys() == single_weights.keys()
    for name, tensor in single_weights.items():
        assert torch.allclose(ddp_weights[name], tensor, atol=2e-5, rtol=1e-4), name
    # Only rank 0 wrote the log; validation ran three times without a deadlock.
    log = (tiny_project / "runs/ddp/log.jsonl").read_text().splitlines()
    assert sum('"type": "dev"' in line for line in log) == 3
    assert sum('"type": "train"' in line for line in log) == 6
