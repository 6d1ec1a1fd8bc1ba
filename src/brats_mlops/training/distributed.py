"""Distributed data-parallel training with PyTorch's own engine (``torch.distributed`` + DDP), started by torchrun.

``torchrun --standalone --nproc_per_node N -m pipelines.train_segmentation`` starts N processes; each calls
:func:`init` (the stage's entry does), which joins the process group when torchrun's ``WORLD_SIZE`` > 1 — gloo on
CPU, NCCL on CUDA (each rank on ``cuda:LOCAL_RANK``) — and is a no-op otherwise, so the same code runs in one
process. The training loop (``training.loop.Trainer``) then:

* gives each rank its share of the training cases per epoch (``DistributedSampler``, reshuffled every epoch;
  the last share is padded by repeating cases, so every rank runs the same number of steps);
* wraps the network in ``DistributedDataParallel`` (the autoencoder, whose discriminator is frozen and unfrozen
  within a step, shards its in-memory volumes with :func:`shard` and averages gradients with
  :func:`average_gradients` at each optimiser step instead) (gradients all-reduced at every optimiser step; with
  gradient accumulation the intermediate micro-batches skip the all-reduce);
* validates on rank 0 only and broadcasts the record, so every rank takes the same checkpoint and early-stopping
  decisions; rank 0 alone writes checkpoints and logs to MLflow; train values are averaged over the ranks.

Effective batch = ``batch_size × grad_accum × world_size``; optimiser steps per epoch per rank =
``ceil(ceil(n_train / world_size) / batch_size / grad_accum)`` (with ``grad_accum`` 1: ``ceil(ceil(n / W) / B)``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as tdist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


_ctx = Context()


def current() -> Context:
    return _ctx


def init(timeout_s: int = 3600) -> Context:
    """Join torchrun's process group (no-op without torchrun or with one process); idempotent."""
    global _ctx
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or _ctx.enabled:
        return _ctx
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local)
    backend = "nccl" if cuda else "gloo"
    tdist.init_process_group(backend, timeout=dt.timedelta(seconds=timeout_s))
    _ctx = Context(rank, world, local)
    if rank != 0:
        os.environ["BRATS_NO_PROGRESS"] = "1"   # one progress bar (rank 0's)
    log.info("distributed data-parallel: rank %d of %d (%s)", rank, world, backend)
    return _ctx


def shutdown() -> None:
    global _ctx
    if _ctx.enabled and tdist.is_initialized():
        tdist.barrier()
        tdist.destroy_process_group()
    _ctx = Context()


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (pickled; for small records such as a validation result)."""
    if not _ctx.enabled:
        return obj
    box = [obj if _ctx.is_main else None]
    tdist.broadcast_object_list(box, src=0)
    return box[0]


def mean_over_ranks(record: dict[str, float]) -> dict[str, float]:
    """Each value averaged over the ranks (values that are equal on every rank, e.g. the learning rate, stay)."""
    if not _ctx.enabled or not record:
        return record
    keys = sorted(record)
    t = torch.tensor([float(record[k]) for k in keys], dtype=torch.float64)
    tdist.all_reduce(t)
    return {k: float(v) / _ctx.world_size for k, v in zip(keys, t.tolist())}


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` in DDP when distributed (the trainer keeps the bare module for checkpoints and validation)."""
    if not _ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [_ctx.local_rank] if torch.cuda.is_available() else None
    return DistributedDataParallel(model, device_ids=ids)   # frozen parameters (requires_grad False) are not synchronised


def shard(order: torch.Tensor) -> torch.Tensor:
    """This rank's share of an epoch's sample order, padded by repeating its start so every rank has as many
    samples (``DistributedSampler``'s rule), for trainers that batch in-memory tensors themselves."""
    if not _ctx.enabled:
        return order
    w = _ctx.world_size
    total = -(-len(order) // w) * w
    padded = torch.cat([order, order[: total - len(order)]]) if total > len(order) else order
    return padded[_ctx.rank::w]


def average_gradients(module: torch.nn.Module) -> None:
    """All-reduce and average the gradients of ``module`` (what DDP does inside backward), for modules whose
    ``requires_grad`` is toggled during a step (a GAN's discriminator), which the DDP wrapper does not allow."""
    if not _ctx.enabled:
        return
    for p in module.parameters():
        if p.grad is not None:
            tdist.all_reduce(p.grad)
            p.grad /= _ctx.world_size
