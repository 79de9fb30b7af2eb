"""What the trainer needs from the other processes of a distributed run (torch.distributed, set up
by ``torchrun``; see engine.training.distributed), and nothing when it runs alone.

Every call here is a collective: all ranks make it at the same point of the loop, or they wait
for each other forever. The trainer therefore makes them at points every rank reaches in the
same order: every ``control_every`` steps (the window of the loss/accuracy curves, plus rank 0's
stop request), at the end of an epoch (the epoch's sums) and after validation (rank 0's result).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from .config import ConfigError


@dataclass
class Collective:
    rank: int
    world: int
    device: torch.device     # where the collective's tensors live: CUDA for NCCL, the CPU for gloo

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_sum(self, values: list[float]) -> list[float]:
        """Element-wise sums over all ranks, in one all-reduce (float64: exact for counts)."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def from_main(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (plain Python or numpy: it is pickled by torch)."""
        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        return box[0]

    def rank_batch_size(self, batch_size: int) -> int:
        """Each process's share of the batch: the global batch stays the configured one."""
        if batch_size % self.world:
            raise ConfigError(f"batch_size {batch_size} cannot be shared by {self.world} processes: choose a "
                              f"multiple of {self.world} (each process trains batch_size / {self.world} samples a step)")
        return batch_size // self.world

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """What the training step runs: DistributedDataParallel around ``model``, which averages
        the gradients over the processes (the model itself stays what is checkpointed)."""
        from torch.nn.parallel import DistributedDataParallel
        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def control_point(self, sums, stop_requested: bool) -> tuple[tuple[float, float, int], bool]:
        """(loss, correct, count) summed over the processes (the curves show the global batch) and
        whether any process asked to stop (only rank 0 does), in one all-reduce."""
        loss, correct, count, stop = self.all_sum([*sums, float(stop_requested)])
        return (loss, correct, int(count)), stop > 0

    def means(self, sums) -> tuple[float, float]:
        """Mean loss and accuracy over every process's samples, from each one's (loss, correct, count)."""
        loss, correct, count = self.all_sum(list(sums))
        return loss / max(1, count), correct / max(1, count)

    def shard(self, order: torch.Tensor) -> torch.Tensor:
        """This rank's part of a sample order: every world-th sample from its rank, the tail cut
        so that every rank gets as many (an uneven last step would leave one rank waiting).
        Together the ranks' k-th batches of size B/world are the single-process k-th batch of B."""
        usable = len(order) // self.world * self.world
        return order[:usable][self.rank::self.world]


def peer_lost(error: BaseException) -> bool:
    """A collective failed because another process went away (gloo's and NCCL's words for it)."""
    text = str(error)
    return any(word in text for word in ("gloo", "NCCL", "Connection closed", "Connection reset", "Timed out"))
