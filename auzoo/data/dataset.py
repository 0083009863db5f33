"""The training and evaluation dataset over a prepared cache.

A sample is a dict::

    image      uint8 (S, S, 3) RGB aligned face (a torch tensor)
    labels     float32 (n_AU,) 0/1 in the protocol's AU order
    landmarks  float32 (66, 2) aligned landmarks (pixels; NaN where missing)
    subject    str, e.g. "SN001"
    frame      int, 0-based video frame
    flipped    bool, whether the image was mirrored

Images stay uint8 and channels-last until they reach the device, where
:func:`to_model_input` turns a batch into the models' (N, 3, H, W) float input
in [0, 1]: a quarter of the bytes cross the host-device link, and the CPU does
no per-pixel work.

For speed the dataset fetches whole batches: ``__getitems__`` (used by torch's
DataLoader when the sampler yields batches) copies each row straight from the
memory-mapped cache into the batch, mirroring on the way, and returns the batch
already collated, so the DataLoader needs ``collate_fn=collate_batch``:
:func:`make_loader` wires it up with :class:`AUWeightedBatchSampler`.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from auzoo.data.align import FLIP_PERMUTATION_66
from auzoo.data.cache import DisfaCache, open_cache
from auzoo.data.protocol import Protocol, check_bad_frames, get_protocol
from auzoo.data.sampler import AUWeightedBatchSampler


class DisfaFrames(Dataset):
    """Frames of ``subjects`` from a cache, under a protocol and bad-frame policy.

    ``hflip=True`` mirrors each sample with probability 1/2 (torch's RNG, which
    the DataLoader seeds per worker), landmarks included: x -> S - 1 - x and
    the 66 points renumbered left <-> right.
    """

    def __init__(self, cache: Union[str, DisfaCache], subjects: Sequence[str],
                 bad_frames: str = "drop", hflip: bool = False,
                 protocol: Union[str, Protocol] = "disfa"):
        self.cache = cache if isinstance(cache, DisfaCache) else open_cache(cache)
        self.protocol = get_protocol(protocol)
        self.bad_frames = check_bad_frames(bad_frames)
        self.hflip = bool(hflip)
        self.subjects = list(dict.fromkeys(subjects))
        absent = [s for s in self.subjects if s not in self.cache.subjects]
        if absent:
            raise KeyError(f"subject(s) {', '.join(absent)} not in cache {self.cache.root}")
        rows = self.protocol.select_frames(self.cache.index, self.subjects, self.bad_frames)
        self.rows = rows.reset_index(drop=True)
        self.labels = self.protocol.labels(rows).astype(np.float32)
        self.frame = rows["frame"].to_numpy(np.int64)
        codes = {s: i for i, s in enumerate(self.subjects)}
        self.subject_code = rows["subject"].map(codes).to_numpy(np.int16)
        self.landmarks = np.empty((len(rows), 66, 2), dtype=np.float32)
        for code, s in enumerate(self.subjects):
            sel = self.subject_code == code
            self.landmarks[sel] = self.cache.landmarks(s)[self.frame[sel]]
        self.size = self.cache.size

    @property
    def aus(self):
        return self.protocol.aus

    def __len__(self) -> int:
        return len(self.frame)

    def _flips(self, n: int) -> np.ndarray:
        if not self.hflip:
            return np.zeros(n, dtype=bool)
        return (torch.rand(n) < 0.5).numpy()

    def __getitem__(self, i: int) -> Dict:
        return {k: v[0] for k, v in self.__getitems__([i]).items()}

    def __getitems__(self, indices: Sequence[int]) -> Dict:
        idx = np.asarray(indices, dtype=np.int64)
        if idx.ndim != 1:
            raise ValueError("__getitems__ takes a flat list of indices")
        n, size = len(idx), self.size
        flips = self._flips(n)
        images_t = _batch_tensor((n, size, size, 3))
        images = images_t.numpy()
        codes, frames = self.subject_code[idx], self.frame[idx]
        for j in range(n):
            src = self.cache.frames(self.subjects[codes[j]])[frames[j]]
            if flips[j]:
                cv2.flip(src, 1, dst=images[j])  # ~10x numpy's reversed-stride copy
            else:
                images[j] = src
        landmarks = self.landmarks[idx]
        if flips.any():
            mirrored = landmarks[flips][:, FLIP_PERMUTATION_66]
            mirrored[..., 0] = (size - 1) - mirrored[..., 0]
            landmarks[flips] = mirrored
        return {
            "image": images_t,
            "labels": torch.from_numpy(self.labels[idx]),
            "landmarks": torch.from_numpy(landmarks),
            "subject": [self.subjects[c] for c in codes],
            "frame": torch.from_numpy(frames),
            "flipped": torch.from_numpy(flips),
        }


def _batch_tensor(shape) -> torch.Tensor:
    """An empty uint8 tensor; in a DataLoader worker, allocated in shared memory
    so that handing the batch to the main process copies nothing (as torch's
    default_collate does)."""
    if torch.utils.data.get_worker_info() is None:
        return torch.empty(shape, dtype=torch.uint8)
    storage = torch.UntypedStorage._new_shared(int(np.prod(shape)))
    return torch.empty(0, dtype=torch.uint8).set_(storage).view(shape)


def collate_batch(batch):
    """The DataLoader ``collate_fn`` for :class:`DisfaFrames`: batches come collated."""
    if isinstance(batch, dict):
        return batch
    raise TypeError("DisfaFrames batches are collated by __getitems__; give the DataLoader a "
                    "batch_sampler (or batch_size) and collate_fn=collate_batch")


def make_loader(dataset: DisfaFrames, batch_size: int = 64, iters_per_epoch: Optional[int] = 100,
                seed: int = 0, num_workers: int = 0, pin_memory: bool = False,
                world_size: Optional[int] = None, rank: Optional[int] = None,
                shuffle: bool = False) -> DataLoader:
    """A DataLoader over ``dataset``.

    ``iters_per_epoch`` set: training batches drawn by :class:`AUWeightedBatchSampler`
    (``batch_size`` is the global batch; each rank gets its share). ``None``:
    every frame once, in order (or shuffled), for evaluation.
    """
    if iters_per_epoch is not None:
        sampler = AUWeightedBatchSampler(dataset.labels, batch_size=batch_size,
                                         iters_per_epoch=iters_per_epoch, seed=seed,
                                         world_size=world_size, rank=rank, aus=dataset.aus)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_batch,
                          num_workers=num_workers, pin_memory=pin_memory,
                          persistent_workers=num_workers > 0)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_batch,
                      num_workers=num_workers, pin_memory=pin_memory, generator=generator)


def to_model_input(images: torch.Tensor, device=None, size: Optional[int] = None,
                   non_blocking: bool = True) -> torch.Tensor:
    """uint8 (N, S, S, 3) RGB -> float (N, 3, size, size) in [0, 1] on ``device``.

    The result is channels-last in memory (fast convolutions); ``size`` other
    than S resizes on the device (bilinear, antialiased).
    """
    x = images.to(device, non_blocking=non_blocking) if device is not None else images
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    if size is not None and size != x.shape[-1]:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear",
                                            align_corners=False, antialias=True)
    return x


def scale_landmarks(landmarks: torch.Tensor, from_size: int, to_size: int) -> torch.Tensor:
    """Landmarks of an S-pixel image in a resized ``to_size`` one (pixel centres kept)."""
    if from_size == to_size:
        return landmarks
    return (landmarks + 0.5) * (to_size / from_size) - 0.5
