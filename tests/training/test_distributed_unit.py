"""The DDP helpers in two real gloo processes: each rank's share of an epoch, averaged gradients, the broadcast
validation record and rank-averaged train values; one process is a no-op."""

import os

import pytest
import torch
import torch.multiprocessing as mp

from brats_mlops.training import distributed


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    os.environ.update(WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1")
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    distributed._ctx = distributed.Context(rank, world, rank)
    try:
        share = distributed.shard(torch.arange(7))
        torch.manual_seed(0)
        net = torch.nn.Linear(3, 1)
        x = torch.full((2, 3), float(rank + 1))                  # different data on each rank
        net(x).sum().backward()
        distributed.average_gradients(net)
        rec = distributed.broadcast({"val": 0.5} if rank == 0 else None)
        mean = distributed.mean_over_ranks({"train_loss": float(rank), "lr": 0.1})
        torch.save({"share": share, "grad": net.weight.grad.clone(), "rec": rec, "mean": mean}, f"{out_dir}/{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_helpers_across_two_gloo_ranks(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"{r}.pt", weights_only=False) for r in (0, 1))
    assert r0["share"].tolist() == [0, 2, 4, 6] and r1["share"].tolist() == [1, 3, 5, 0]   # padded like DistributedSampler
    assert torch.equal(r0["grad"], r1["grad"])                                          # the same averaged gradient
    assert torch.allclose(r0["grad"], torch.full((1, 3), 3.0))                         # mean of 2*1 and 2*2 per weight
    assert r0["rec"] == r1["rec"] == {"val": 0.5}
    assert r0["mean"] == r1["mean"] == {"train_loss": 0.5, "lr": pytest.approx(0.1)}


def test_one_process_is_a_no_op():
    assert not distributed.current().enabled
    order = torch.arange(5)
    assert distributed.shard(order) is order and distributed.broadcast({"a": 1}) == {"a": 1}
    assert distributed.mean_over_ranks({"x": 2.0}) == {"x": 2.0}
    net = torch.nn.Linear(2, 1)
    assert distributed.wrap(net) is net
