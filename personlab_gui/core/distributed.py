"""This process's place in a ``torchrun`` job, shared by ``train`` and ``infer``.

Without torchrun (no ``WORLD_SIZE`` in the environment) the world is one process. Under it,
each process takes ``cuda:LOCAL_RANK`` with NCCL when the chosen device is CUDA, else the
CPU with gloo. With more processes on a machine than GPUs, they share the GPUs in turn
(``cuda:LOCAL_RANK % count``) and talk through gloo (NCCL wants one process per GPU):
``infer`` on one GPU then decodes in several processes, its slow stage there.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass
class Distributed:
    """Rank, world size and local rank (world 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Distributed:
        env = os.environ
        return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def join(self, device: torch.device) -> torch.device:
        """Join the process group (when ``enabled``); the device this process uses."""
        if not self.enabled:
            return device
        backend = "gloo"
        if device.type == "cuda":
            count = torch.cuda.device_count()
            device = torch.device("cuda", self.local_rank % count)
            torch.cuda.set_device(device)
            if int(os.environ.get("LOCAL_WORLD_SIZE", self.world_size)) <= count:
                backend = "nccl"
        if not dist.is_initialized():
            dist.init_process_group(backend)
        return device

    def shard(self, count: int) -> range:
        """The indices (of ``count`` items) this process handles: every world_size-th."""
        return range(self.rank, count, self.world_size)

    def gather(self, indexed: list[tuple[int, Any]]) -> list[Any] | None:
        """Every process's (index, value) pairs, merged in index order, on rank 0 (None on
        the others); without torchrun the values themselves."""
        if not self.enabled:
            return [value for _, value in sorted(indexed, key=lambda pair: pair[0])]
        parts: list[list[tuple[int, Any]]] | None = [[] for _ in range(self.world_size)] if self.is_main else None
        dist.gather_object(indexed, parts, dst=0)
        if parts is None:
            return None
        return [value for _, value in sorted((pair for part in parts for pair in part), key=lambda p: p[0])]

    def count_done(self, key: str = "personlab_gui/done") -> int:
        """Add one finished item to the job's shared count; the count so far (all ranks)."""
        if not self.enabled:
            raise RuntimeError("count_done needs torchrun")
        return int(dist.distributed_c10d._get_default_store().add(key, 1))

    def finish(self, wait: bool = True) -> None:
        """Leave the process group (once; later calls do nothing); with ``wait``, first wait
        for every process (rank 0 has written its file)."""
        if self.enabled and dist.is_initialized():
            if wait:
                dist.barrier()
            dist.destroy_process_group()

    def leave(self, status: int) -> int:
        """End a torchrun process with ``status`` at once, skipping the interpreter's
        shutdown (without torchrun: return ``status``). DistributedDataParallel keeps the
        gloo process group and its threads alive past ``destroy_process_group`` (torch 2.13,
        measured), so a rank's shutdown would run beside them while the other ranks close
        their sockets; nothing is left to do by then (outputs written, streams flushed
        here)."""
        if not self.enabled:
            return status
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
