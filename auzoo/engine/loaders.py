"""Data loaders over a prepared cache, as mmengine's ``Runner.build_dataloader`` builds them.

:func:`frames_loader_cfg` writes a plain mmengine loader config for the
frames of some subjects: ``dataset=dict(type='AUFrames', ...)`` (the cache,
the subjects, the model's AUs and pipeline, the dataset options),
``sampler=dict(type='DefaultSampler', shuffle=False)``, and, for training, the
batch sampler the config names (``train_dataloader.sampler.type``: the
paper's ``AUWeightedBatchSampler`` by default, ``ShuffledBatchSampler`` for
one shuffled pass), with ``collate_fn=dict(type='collate_batch')``.
``batch_size`` in a config is the global batch; the loader config holds each
rank's share, mmengine's convention (so its ``auto_scale_lr`` sees the global
batch as ``world_size * batch_size``). Evaluation reads every frame once, in
index order, each rank its share.

Workers (on a GPU) start through the forkserver: a forked worker would inherit
CUDA and thread state. The dataset and samplers are module-level, so they
pickle under any start method. A batch in flight is a few hundred MB of shared
memory (64 x 224 x 224 x 3 bytes, times workers x prefetch): where /dev/shm is
small (containers default to 64 MB; give them ``--shm-size=2g``), torch is
told to share through files instead, and says so.
"""
from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence

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


@dataclass(frozen=True)
class FramesSource:
    """Which frames a loader serves and how each becomes the model's input:
    ``subjects`` of ``cache``, labels of ``aus``, ``data`` options (bad_frames,
    threshold), the model's ``pipeline`` steps (default TRA-Net's) ending at
    ``img_size``, and the 0-5 intensities too where ``intensity``."""

    cache: str
    subjects: Sequence[str]
    aus: Sequence[int]
    data: Mapping[str, Any] = field(default_factory=dict)
    pipeline: Optional[Sequence[Mapping[str, Any]]] = None
    img_size: Optional[int] = None
    intensity: bool = False

    def dataset_cfg(self) -> Dict[str, Any]:
        return dict(type="AUFrames", cache=str(self.cache), subjects=list(self.subjects),
                    aus=list(self.aus), bad_frames=self.data.get("bad_frames", "drop"),
                    pipeline=None if self.pipeline is None else [dict(p) for p in self.pipeline],
                    img_size=None if self.img_size is None else int(self.img_size),
                    threshold=self.data.get("threshold"), intensity=bool(self.intensity))


def check_sampler(kind: str) -> None:
    """A batch sampler type a config names must be registered; the error lists them."""
    from auzoo.registry import DATA_SAMPLERS, ensure_loaded

    ensure_loaded()
    if DATA_SAMPLERS.get(kind) is None:
        raise ValueError(f"train_dataloader.sampler.type {kind!r} is not a registered sampler; "
                         f"choose one of {', '.join(sorted(DATA_SAMPLERS.module_dict))}")


def frames_loader_cfg(source: FramesSource, loader_cfg: Mapping[str, Any], *, training: bool,
                      device: torch.device, world_size: int = 1) -> Dict[str, Any]:
    """mmengine's loader config over ``source``'s frames, from a config's
    ``train_dataloader`` / ``val_dataloader`` (batch_size: the global batch;
    num_workers; for training, the batch sampler as ``sampler``)."""
    import auzoo.data.au_frames  # noqa: F401  (registers AUFrames and collate_batch)
    from auzoo.engine.dist import global_batch_split

    loader_cfg = dict(loader_cfg or {})
    workers = loader_workers(device, world_size, loader_cfg.get("num_workers"))
    _check_shared_memory(workers)
    batch = int(loader_cfg["batch_size"])
    # DefaultSampler hands a batch sampler the dataset and the run's seed, and
    # splits evaluation over ranks; a single process scoring reads every frame
    # in order (no sampler), also where a process group exists (rank 0 alone
    # scoring the test fold after training)
    sampler = dict(type="DefaultSampler", shuffle=False) if training or world_size > 1 else None
    out = dict(dataset=source.dataset_cfg(), sampler=sampler, collate_fn=dict(type="collate_batch"), num_workers=workers,
               persistent_workers=workers > 0, pin_memory=device.type == "cuda",
               multiprocessing_context="forkserver" if workers > 0 else None)
    if training:
        batch_sampler = dict(loader_cfg.get("sampler") or {})
        batch_sampler.setdefault("type", "AUWeightedBatchSampler")
        check_sampler(batch_sampler["type"])
        out.update(batch_sampler=batch_sampler, batch_size=global_batch_split(batch, world_size))
    else:
        out.update(batch_size=max(1, batch // world_size))
    return out


def build_frames_loader(loader_cfg: Mapping[str, Any], *, seed: int = 0) -> DataLoader:
    """The DataLoader of a :func:`frames_loader_cfg`, built as the Runner builds it."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from auzoo.registry import ensure_loaded

    ensure_loaded()
    with DefaultScope.overwrite_default_scope("auzoo"):  # auzoo's types, as in a run
        return Runner.build_dataloader(dict(loader_cfg), seed=seed)
