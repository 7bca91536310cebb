"""Training on several processes at once (torchrun): one process per GPU, on one machine or several.

Every rank runs the same command. Each draws the *whole* global batch from the same
seeded generators (so every rank's generators stay identical to a single process's),
keeps its own slice of it (:meth:`DistRanks.shard`), and the gradients are averaged
over the ranks before each optimiser step (:meth:`DistRanks.average_gradients`): the
same update as one process on the whole batch, for losses that are a mean over the
examples. Losses are averaged too; stops (Cancel, out of memory) are agreed by all
ranks at the same point, so no rank waits for a collective another rank never reaches.
Only rank 0 logs, previews and writes checkpoints.

:func:`launch_command` builds the ``python -m torch.distributed.run …`` line the
``--nproc-per-node`` option and the Train dialogs start.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from aigc_studio.core.launch import launch_command, launched_by_torchrun, strip_launch_options, visible_gpus
from aigc_studio.core.training_loop import Ranks
from aigc_studio.errors import StudioError

__all__ = [
    "DistRanks",
    "visible_gpus",
    "PeerOutOfMemory",
    "RankContext",
    "TIMEOUT_S",
    "launch_command",
    "launched_by_torchrun",
    "strip_launch_options",
]

# A collective that waits longer than this ends the run with an error (a rank that hangs);
# a rank that dies is noticed at once, because its sockets close.
TIMEOUT_S = float(os.environ.get("AIGC_STUDIO_DIST_TIMEOUT", "300"))


class PeerOutOfMemory(RuntimeError):
    """Another rank ran out of memory in this step: every rank halves the batch and retries it."""


class DistRanks(Ranks):
    """This process's place in a torchrun run, and the collectives the loop needs."""

    def __init__(self, device: Any) -> None:
        import torch
        import torch.distributed as dist

        self.dist = dist
        self.rank = int(os.environ["RANK"])
        self.world_size = int(os.environ["WORLD_SIZE"])
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.is_main = self.rank == 0
        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        self.device = device
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            try:
                dist.init_process_group(backend, timeout=timedelta(seconds=TIMEOUT_S))
            except Exception as exc:  # noqa: BLE001 - every way of not meeting the others ends the same
                raise StudioError(f"Rank {self.rank} could not reach the other processes: {exc}") from exc

    def _tensor(self, values: list[float]) -> Any:
        import torch

        return torch.tensor(values, dtype=torch.float64, device=self.device)

    def _collective(self, what: str, fn, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - a peer that died or hangs: one clear line, non-zero exit
            raise StudioError(
                f"Rank {self.rank}: another training process stopped or stopped answering ({what}); "
                "ending this one too. Resume from the last checkpoint."
            ) from exc

    def reduce(self, values: dict[str, float]) -> dict[str, float]:
        if not values:
            return values
        t = self._tensor(list(values.values()))
        self._collective("averaging the losses", self.dist.all_reduce, t)
        return dict(zip(values, (t / self.world_size).tolist()))

    def any(self, flag: bool, what: str = "agreeing to stop") -> bool:
        """True on every rank when ``flag`` is true on at least one."""
        t = self._tensor([1.0 if flag else 0.0])
        self._collective(what, self.dist.all_reduce, t, self.dist.ReduceOp.MAX)
        return bool(t.item())

    def shard(self, batch: Any) -> Any:
        """This rank's slice of a global batch (a tensor or a list; the batch divides evenly)."""
        n = len(batch) // self.world_size
        return batch[self.rank * n : (self.rank + 1) * n]

    def average_gradients(self, parameters: Any) -> None:
        """Average the gradients over the ranks (after first agreeing that no rank ran out of memory)."""
        import torch

        if self.any(False, "checking for out-of-memory"):
            raise PeerOutOfMemory("another rank ran out of memory")
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1).float() for g in grads])
        self._collective("averaging the gradients", self.dist.all_reduce, flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def average_buffers(self, modules: Any) -> None:
        """Average float buffers (BatchNorm running statistics, which each rank updates from its own slice)."""
        import torch

        buffers = [b for m in modules for b in m.buffers() if b.is_floating_point()]
        if not buffers:
            return
        flat = torch.cat([b.reshape(-1).float() for b in buffers])
        self._collective("averaging the running statistics", self.dist.all_reduce, flat)
        flat /= self.world_size
        offset = 0
        for b in buffers:
            b.copy_(flat[offset : offset + b.numel()].view_as(b))
            offset += b.numel()

    def broadcast_tensors(self, tensors: list[Any]) -> None:
        """Make these tensors (weights, buffers) rank 0's on every rank."""
        for t in tensors:
            self._collective("sharing the start weights", self.dist.broadcast, t, 0)

    def gather(self, obj: Any) -> list[Any]:
        """``obj`` from every rank, in rank order (on every rank)."""
        out: list[Any] = [None] * self.world_size
        self._collective("gathering the random states", self.dist.all_gather_object, out, obj)
        return out

    def check_same(self, state: Any) -> None:
        """Raise when the ranks' training states (weights, optimisers, generators) are not identical."""
        prints = self.gather(fingerprint(state))
        if any(p != prints[0] for p in prints):
            raise StudioError(
                "The training processes drifted apart (their weights differ); the saved model is rank 0's. "
                "Please report this with the command you ran."
            )

    def close(self) -> None:
        """Leave the process group (after the last collective)."""
        if self.dist.is_initialized():
            self.dist.destroy_process_group()


def fingerprint(obj: Any) -> list[float]:
    """Sums over every tensor in a nested state (dicts, lists): equal on ranks that hold the same state."""
    import torch

    sums = [0.0, 0.0, 0.0]

    def walk(x: Any) -> None:
        if isinstance(x, torch.Tensor):
            t = x.detach().double().cpu() if x.is_floating_point() else x.detach().cpu().double()
            sums[0] += float(t.sum())
            sums[1] += float(t.abs().sum())
            sums[2] += t.numel()
        elif isinstance(x, dict):
            for value in x.values():
                walk(value)
        elif isinstance(x, (list, tuple)):
            for value in x:
                walk(value)

    walk(obj)
    return sums


class RankContext:
    """The job context a rank's family sees: only rank 0 reports; stops come from the loop, agreed by all."""

    def __init__(self, ctx: Any, ranks: DistRanks) -> None:
        self._ctx, self._main = ctx, ranks.is_main
        self.device = ranks.device
        self.seed = getattr(ctx, "seed", None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    def log(self, message: str) -> None:
        if self._main:
            self._ctx.log(message)

    def progress(self, fraction: float | None, message: str = "", preview: Any = None) -> None:
        if self._main and self._ctx._on_progress is not None:
            from aigc_studio.core.jobs import Progress

            self._ctx._on_progress(Progress(fraction, message, preview))

    def partial(self, payload: Any) -> None:
        if self._main and self._ctx._on_partial is not None:
            self._ctx._on_partial(payload)

    def check_cancelled(self) -> None:
        """Nothing here: a rank that stopped alone would leave the others waiting; the loop stops all at once."""

    @property
    def cancelled(self) -> bool:
        return False

    def wants_to_stop(self) -> bool:
        """True when the user asked this rank to stop (its own Ctrl+C or Cancel)."""
        return self._ctx.cancelled
