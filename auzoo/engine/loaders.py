"""Data loaders over a prepared cache, as the Runner asks for them.

A loader config in a runner config is auzoo's (``frames=dict(...)``): the
cache, the subjects, the model's AUs and the dataset options. Training draws
its global batches by the registered sampler the config names
(``train_dataloader.sampler.type``: the paper's ``AUWeightedBatchSampler``
by default, ``ShuffledBatchSampler`` for one shuffled pass), each rank
loading its slice; evaluation reads every frame once, in index order.

Workers (on a GPU) start through the forkserver: a forked worker would inherit
CUDA and thread state. The dataset and sampler are module-level, so they
pickle under any start method. A batch in flight is a few hundred MB of shared
memory (64 x 224 x 224 x 3 bytes, times workers x prefetch): where /dev/shm is
small (containers default to 64 MB; give them ``--shm-size=2g``), torch is
told to share through files instead, and says so.
"""
from __future__ import annotations

import os
import shutil
import warnings
from typing import Any, Dict, Optional

import torch
from torch.utils.data import DataLoader

SHM_NEEDED = 1 << 30  # bytes of /dev/shm below which workers share through files


def loader_workers(device: torch.device, world_size: int, requested: Optional[int]) -> int:
    if requested is not None:
        return int(requested)
    if device.type != "cuda":
        return 0  # on a CPU the model needs every core; reading the memmap is cheap
    return max(1, min(8, (os.cpu_count() or 2) // max(1, world_size) - 1))


def _check_shared_memory(workers: int) -> None:
    if workers <= 0 or not os.path.isdir("/dev/shm"):
        return
    free = shutil.disk_usage("/dev/shm").free
    if free < SHM_NEEDED and torch.multiprocessing.get_sharing_strategy() != "file_system":
        torch.multiprocessing.set_sharing_strategy("file_system")
        warnings.warn(f"/dev/shm has {free >> 20} MB free; DataLoader workers share batches "
                      "through files instead (in a container, start it with --shm-size=2g)",
                      RuntimeWarning, stacklevel=3)


def build_frames_loader(frames: Dict[str, Any], *, seed: int, device: torch.device,
                        rank: int = 0, world_size: int = 1) -> DataLoader:
    """A DataLoader from auzoo's loader config (see :func:`frames_loader_cfg`)."""
    from auzoo.data import open_cache
    from auzoo.data.dataset import AUFrames, collate_batch
    from auzoo.registry import SAMPLERS

    cache = open_cache(frames["cache"])
    dataset = AUFrames(cache, frames["subjects"], aus=tuple(frames["aus"]),
                       bad_frames=frames["bad_frames"], pipeline=frames.get("pipeline"),
                       img_size=frames.get("img_size"), threshold=frames.get("threshold"),
                       intensity=bool(frames.get("intensity")))
    workers = loader_workers(device, world_size, frames.get("num_workers"))
    _check_shared_memory(workers)
    common = dict(collate_fn=collate_batch, num_workers=workers, persistent_workers=workers > 0,
                  pin_memory=device.type == "cuda",
                  multiprocessing_context="forkserver" if workers > 0 else None)
    batch_size = int(frames["batch_size"])
    sampler = frames.get("sampler")
    if sampler is not None:
        options = {k: v for k, v in sampler.items() if k != "type"}
        sampler_cls = SAMPLERS.get(sampler.get("type", "AUWeightedBatchSampler"))
        batch_sampler = sampler_cls(
            dataset.labels, mask=dataset.mask, batch_size=batch_size, seed=seed,
            world_size=world_size, rank=rank, aus=dataset.aus, **options)
        return DataLoader(dataset, batch_sampler=batch_sampler, **common)
    if frames.get("distributed"):
        from mmengine.dataset import DefaultSampler
        return DataLoader(dataset, batch_size=max(1, batch_size // world_size),
                          sampler=DefaultSampler(dataset, shuffle=False), **common)
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, **common)


def frames_loader_cfg(cache: str, subjects, aus, data_cfg, loader_cfg, *, training: bool,
                      distributed: bool = False, pipeline=None,
                      img_size: Optional[int] = None, intensity: bool = False) -> Dict[str, Any]:
    """The runner config entry for a loader over ``subjects`` of ``cache``;
    ``pipeline``: the model's train or test pipeline steps (default TRA-Net's);
    ``intensity``: batches carry the 0-5 intensity labels too."""
    loader_cfg = dict(loader_cfg or {})
    sampler = dict(loader_cfg.get("sampler") or {}) if training else None
    if sampler is not None:
        from auzoo.registry import SAMPLERS, ensure_loaded

        ensure_loaded()
        kind = sampler.get("type", "AUWeightedBatchSampler")
        if SAMPLERS.get(kind) is None:
            raise ValueError(f"train_dataloader.sampler.type {kind!r} is not a registered sampler; "
                             f"choose one of {', '.join(sorted(SAMPLERS.module_dict))}")
    return dict(frames=dict(
        cache=str(cache), subjects=list(subjects), aus=list(aus),
        bad_frames=data_cfg.get("bad_frames", "drop"),
        pipeline=None if pipeline is None else [dict(p) for p in pipeline],
        img_size=None if img_size is None else int(img_size),
        threshold=data_cfg.get("threshold"), batch_size=int(loader_cfg["batch_size"]),
        num_workers=loader_cfg.get("num_workers"), sampler=sampler, distributed=distributed,
        intensity=bool(intensity)))
