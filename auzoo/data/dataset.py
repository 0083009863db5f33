"""The training and evaluation dataset over a prepared cache.

:class:`AUFrames` serves the frames of some subjects of a cache, with labels
in the order of the AUs asked for (a model's ``aus``: any order, any subset the
dataset codes). A batch is a dict::

    image       uint8 (N, S, S, 3) RGB aligned faces
    labels      float32 (N, A) 0/1 in the order of ``aus`` (0 where not coded)
    label_mask  bool (N, A): True where the label is coded
    landmarks   float32 (N, 66, 2) aligned landmarks (pixels; NaN where missing)
    index       int64 (N,) dataset row numbers
    subject     list of N str
    frame       int64 (N,) the index's ``frame`` (DISFA: video frame; BP4D: CSV frame)
    flipped     bool (N,), whether the image was mirrored

Images stay uint8 and channels-last until they reach the device, where
:func:`to_model_input` turns a batch into the models' (N, 3, H, W) float input
in [0, 1]: a quarter of the bytes cross the host-device link, and the CPU does
no per-pixel work.

For speed the dataset fetches whole batches: ``__getitems__`` (used by torch's
DataLoader when the sampler yields batches) copies each row straight from the
memory-mapped cache into the batch, mirroring on the way, and returns the batch
already collated, so the DataLoader needs ``collate_fn=collate_batch``:
:func:`make_loader` wires it up with :class:`AUWeightedBatchSampler`.

The class lives at module level and holds only arrays and the cache (whose
memory maps reopen in each process), so DataLoader workers started with
``spawn`` or ``forkserver`` can unpickle it.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from auzoo.data.align import FLIP_PERMUTATION_66
from auzoo.data.cache import open_cache
from auzoo.data.sampler import AUWeightedBatchSampler


class AUFrames(Dataset):
    """Frames of ``subjects`` from a cache, under its dataset's protocol.

    ``aus`` selects and orders the label columns (default: the dataset's
    scored AUs); an AU the dataset does not code is refused, naming both
    lists. ``bad_frames`` is one of the dataset's policies; ``threshold``
    overrides the dataset's positive rule (value >= threshold).
    ``hflip=True`` mirrors each sample with probability 1/2 (torch's RNG,
    which the DataLoader seeds per worker), landmarks included: x -> S - 1 - x
    and the 66 points renumbered left <-> right.
    """

    def __init__(self, cache, subjects: Sequence[str], aus: Optional[Sequence[int]] = None,
                 bad_frames: str = "drop", hflip: bool = False, threshold: Optional[int] = None):
        self.cache = open_cache(cache)
        self.dataset = self.cache.dataset
        self.aus = self.dataset.check_aus(aus, self.cache.index.columns)
        self.bad_frames = self.dataset.check_bad_frames(bad_frames)
        self.threshold = self.dataset.check_threshold(threshold)
        self.hflip = bool(hflip)
        self.subjects = list(dict.fromkeys(subjects))
        absent = [s for s in self.subjects if s not in self.cache.subjects]
        if absent:
            raise KeyError(f"subject(s) {', '.join(absent)} not in cache {self.cache.root} "
                           f"(it has {', '.join(self.cache.subjects)})")
        rows = self.dataset.select_frames(self.cache.index, self.subjects, self.bad_frames)
        self.rows = rows.reset_index(drop=True)
        labels, known = self.dataset.labels(rows, self.aus, self.threshold)
        self.labels = labels.astype(np.float32)
        self.mask = known
        self.frame = rows["frame"].to_numpy(np.int64)
        self.array_row = self.cache.rows[rows.index.to_numpy()]
        codes = {s: i for i, s in enumerate(self.subjects)}
        self.subject_code = rows["subject"].map(codes).to_numpy(np.int16)
        self.landmarks = np.empty((len(rows), 66, 2), dtype=np.float32)
        for code, s in enumerate(self.subjects):
            sel = self.subject_code == code
            if sel.any():
                self.landmarks[sel] = self.cache.landmarks(s)[self.array_row[sel]]
        self.size = self.cache.size

    def describe(self, fold: Optional[int] = None) -> dict:
        """The protocol these frames were served under (AUs, rule, policy, folds)."""
        out = self.cache.describe(fold, self.bad_frames, self.threshold)
        out["aus"] = list(self.aus)
        return out

    def subjects_of(self, index) -> np.ndarray:
        """Subject names of dataset rows ``index`` (an int or an array of ints)."""
        names = np.asarray(self.subjects, dtype=object)
        return names[self.subject_code[np.asarray(index, dtype=np.int64)]]

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
        codes, rows = self.subject_code[idx], self.array_row[idx]
        for j in range(n):
            src = self.cache.frames(self.subjects[codes[j]])[rows[j]]
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
            "label_mask": torch.from_numpy(self.mask[idx]),
            "landmarks": torch.from_numpy(landmarks),
            "index": torch.from_numpy(idx),
            "subject": [self.subjects[c] for c in codes],
            "frame": torch.from_numpy(self.frame[idx]),
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
    """The DataLoader ``collate_fn`` for :class:`AUFrames`: batches come collated."""
    if isinstance(batch, dict):
        return batch
    raise TypeError("AUFrames batches are collated by __getitems__; give the DataLoader a "
                    "batch_sampler (or batch_size) and collate_fn=collate_batch")


def make_loader(dataset: AUFrames, batch_size: int = 64, iters_per_epoch: Optional[int] = 100,
                seed: int = 0, num_workers: int = 0, pin_memory: bool = False,
                world_size: Optional[int] = None, rank: Optional[int] = None,
                shuffle: bool = False, negatives="class") -> DataLoader:
    """A DataLoader over ``dataset``.

    ``iters_per_epoch`` set: training batches drawn by :class:`AUWeightedBatchSampler`
    (``batch_size`` is the global batch; each rank gets its share). ``None``:
    every frame once, in order (or shuffled), for evaluation.
    """
    if iters_per_epoch is not None:
        sampler = AUWeightedBatchSampler(dataset.labels, dataset.mask, batch_size=batch_size,
                                         iters_per_epoch=iters_per_epoch, seed=seed,
                                         world_size=world_size, rank=rank, aus=dataset.aus,
                                         negatives=negatives)
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
