"""torch.distributed plumbing for training under torchrun: ranks, agreement on stopping, gathering.

One process per device; gloo on CPU, nccl on GPU. Without torchrun (WORLD_SIZE unset or 1) everything
here is a no-op, so single-process training pays nothing for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup() -> Dist:
    """Join the process group that torchrun describes in the environment (if any)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), local_rank)


def teardown(group: Dist) -> None:
    if group.enabled and dist.is_initialized():
        dist.destroy_process_group()


def device_for(group: Dist) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", group.local_rank)
    return torch.device("cpu")


def any_rank(group: Dist, flag: bool, device: torch.device) -> bool:
    """True on every rank if it is true on any: all ranks stop (or save) at the same step."""
    if not group.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def barrier(group: Dist) -> None:
    if group.enabled:
        dist.barrier()


def gather(group: Dist, item: Any) -> list[Any]:
    """Every rank's `item`, in rank order (JSON-safe data only)."""
    if not group.enabled:
        return [item]
    items: list[Any] = [None] * group.world
    dist.all_gather_object(items, item)
    return items


def broadcast(group: Dist, item: Any) -> Any:
    """Rank 0's `item` on every rank."""
    if not group.enabled:
        return item
    holder = [item]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]
