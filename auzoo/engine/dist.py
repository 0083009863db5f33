"""Processes and devices: the one place auzoo starts, joins and leaves
PyTorch's process group (torchrun) and picks a run's device.

``auzoo train`` and ``auzoo bench`` (local, shards, torchrun) all start here;
mmengine's Runner then runs on the group it finds (``launcher='pytorch'``).
"""
from __future__ import annotations

import contextlib
import os
from typing import Optional

import torch


def under_torchrun() -> bool:
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def resolve_device(device: Optional[str]) -> torch.device:
    """``--device`` (default: cuda when there is one); under torchrun each rank
    takes the GPU of its LOCAL_RANK."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: this machine has no CUDA device")
        if "LOCAL_RANK" in os.environ:
            dev = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        elif dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(dev)
    return dev


def start_process_group(device: Optional[str] = None) -> bool:
    """Under torchrun, join the process group (once per process: bench joins
    before making demo data, and every cell's run finds it); NCCL on GPUs,
    gloo on CPUs. False when not under torchrun."""
    if not under_torchrun():
        return False
    import torch.distributed as dist

    if not dist.is_initialized():
        cuda = torch.cuda.is_available() and not str(device or "").startswith("cpu")
        if cuda:
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return True


def launcher(device: torch.device) -> str:
    """mmengine's ``launcher`` for a run on ``device``: 'pytorch' under
    torchrun (the group joined here if it is not yet), else 'none'."""
    return "pytorch" if start_process_group(str(device)) else "none"


def rank() -> int:
    from mmengine.dist import get_rank
    return get_rank()


def barrier() -> None:
    from mmengine.dist import barrier as mm_barrier
    mm_barrier()


def on_rank0(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` computed on rank 0 and handed to every rank, so
    that ranks on different nodes cannot decide differently (and hang)."""
    from mmengine.dist import broadcast_object_list, get_rank, is_distributed

    box = [fn(*args, **kwargs) if get_rank() == 0 else None]
    if is_distributed():
        broadcast_object_list(box, src=0)
    return box[0]


def global_batch_split(batch_size: int, world_size: int) -> int:
    """Per-rank share of the global batch; a clear error when it does not split."""
    if batch_size % world_size:
        fits = sorted({batch_size // world_size * world_size,
                       -(-batch_size // world_size) * world_size} - {0})
        raise ValueError(
            f"train_dataloader.batch_size={batch_size} is the global batch (the paper's 64 "
            f"frames a step), and it does not split over {world_size} processes. Use "
            f"--cfg-options train_dataloader.batch_size={' or '.join(map(str, fits))}, "
            "or run on a number of GPUs that divides it")
    return batch_size // world_size


@contextlib.contextmanager
def distributed_session():
    """Leave the process group together at the end of a command: a rank that
    exits while another still holds its gloo connections can abort that one.
    (After an error, no barrier: the other ranks may never reach it.)"""
    import torch.distributed as dist

    try:
        yield
    except BaseException:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        raise
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
