"""The training and evaluation dataset over a prepared cache.

:class:`AUFrames` is registered in ``auzoo.registry.DATASETS`` (a child of
mmengine's), so a loader config names it: ``dataset=dict(type='AUFrames', ...)``.

:class:`AUFrames` serves the frames of some subjects of a cache, each made
into the model's input by the model's own pipeline (its recipe: alignment
from the cache's loose crop, crops, flips, colour jitter; see
:mod:`auzoo.data.transforms`), with labels in the order of the AUs asked for
(a model's ``aus``: any order, any subset the dataset codes). A batch is a dict::

    image       uint8 (N, S, S, 3) RGB model inputs (S: the pipeline's img_size)
    labels      float32 (N, A) 0/1 in the order of ``aus`` (0 where not coded)
    label_mask  bool (N, A): True where the label is coded
    intensity   float32 (N, A) 0-5 (0 where not coded), with ``intensity=True``
    intensity_mask  bool (N, A): True where the intensity is coded
    landmarks   float32 (N, 66, 2) landmarks in the input's pixels (NaN where missing)
    index       int64 (N,) dataset row numbers
    subject     list of N str
    frame       int64 (N,) the index's ``frame`` (DISFA: video frame; BP4D: CSV frame)
    flipped     bool (N,), whether the image was mirrored

Images stay uint8 and channels-last until they reach the device, where
:func:`auzoo.engine.inference.to_model_input` turns a batch into the models'
(N, 3, S, S) float input in [0, 1]: a quarter of the bytes cross the
host-device link. The CPU's share is one bilinear warp per face (plus the
jitter a training recipe asks for); normalisation is the backbone's.

For speed the dataset fetches whole batches: ``__getitems__`` (used by torch's
DataLoader when the sampler yields batches) writes each face straight into the
batch and returns it already collated, so the DataLoader needs
``collate_fn=collate_batch``: :func:`make_loader` wires it up with
:class:`AUWeightedBatchSampler`. The random steps draw from a numpy generator
seeded from torch's RNG, which the DataLoader seeds per worker.

The class lives at module level and holds only arrays, the cache (whose
memory maps reopen in each process) and the pipeline, so DataLoader workers
started with ``spawn`` or ``forkserver`` can unpickle it.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmengine.registry import FUNCTIONS
from torch.utils.data import DataLoader, Dataset

from auzoo.data.cache import open_cache
from auzoo.data.sampler import AUWeightedBatchSampler, labelled_frames
from auzoo.data.transforms import Pipeline, build_pipeline
from auzoo.registry import DATASETS


@DATASETS.register_module()
class AUFrames(Dataset):
    """Frames of ``subjects`` from a cache, under its dataset's protocol.

    ``aus`` selects and orders the label columns (default: the dataset's
    scored AUs); an AU the dataset does not code is refused, naming both
    lists. ``bad_frames`` is one of the dataset's policies; ``threshold``
    overrides the dataset's positive rule (value >= threshold).
    ``pipeline``: the steps that make a face the model's input (a list of
    transform configs or a built :class:`~auzoo.data.transforms.Pipeline`;
    default TRA-Net's test pipeline), ending at ``img_size`` (default: the
    pipeline's own output size). ``intensity=True`` serves the AUs' 0-5
    intensities too (every AU must be coded with intensities).
    """

    def __init__(self, cache, subjects: Sequence[str], aus: Optional[Sequence[int]] = None,
                 bad_frames: str = "drop", pipeline=None, img_size: Optional[int] = None,
                 threshold: Optional[int] = None, intensity: bool = False):
        self.cache = open_cache(cache)
        self.dataset = self.cache.dataset
        self.aus = self.dataset.check_aus(aus, self.cache.index.columns)
        self.bad_frames = self.dataset.check_bad_frames(bad_frames)
        self.threshold = self.dataset.check_threshold(threshold)
        self.pipeline = pipeline if isinstance(pipeline, Pipeline) else build_pipeline(
            pipeline, img_size)
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
        self.intensity = self.intensity_mask = None
        if intensity:
            self.intensity, self.intensity_mask = self.dataset.intensities(rows, self.aus)
        self.frame = rows["frame"].to_numpy(np.int64)
        self.array_row = self.cache.rows[rows.index.to_numpy()]
        codes = {s: i for i, s in enumerate(self.subjects)}
        self.subject_code = rows["subject"].map(codes).to_numpy(np.int16)
        self.landmarks = np.empty((len(rows), 66, 2), dtype=np.float32)
        self.frame_box = np.empty((len(rows), 4), dtype=np.float32)
        for code, s in enumerate(self.subjects):
            sel = self.subject_code == code
            if sel.any():
                self.landmarks[sel] = self.cache.landmarks(s)[self.array_row[sel]]
                self.frame_box[sel] = self.cache.frame_boxes(s)[self.array_row[sel]]
        self.size = self.pipeline.output_size(self.cache.size)

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

    def sample(self, i: int, rng: Optional[np.random.Generator] = None) -> Dict:
        """Row ``i`` through the pipeline: ``dict(img, landmarks, steps, flipped)``."""
        loose = self.cache.frames(self.subjects[self.subject_code[i]])[self.array_row[i]]
        box = self.frame_box[i]
        return self.pipeline(loose, self.landmarks[i], rng=rng,
                             valid=tuple(box) if np.isfinite(box).all() else None)

    def _rng(self) -> np.random.Generator:
        if not self.pipeline.random:
            return np.random.default_rng(0)
        return np.random.default_rng(int(torch.randint(0, 2 ** 62, (1,)).item()))

    def __getitem__(self, i: int) -> Dict:
        return {k: v[0] for k, v in self.__getitems__([i]).items()}

    def __getitems__(self, indices: Sequence[int]) -> Dict:
        idx = np.asarray(indices, dtype=np.int64)
        if idx.ndim != 1:
            raise ValueError("__getitems__ takes a flat list of indices")
        n, size = len(idx), self.size
        rng = self._rng()
        images_t = _batch_tensor((n, size, size, 3))
        images = images_t.numpy()
        landmarks = np.empty((n, 66, 2), dtype=np.float32)
        flips = np.zeros(n, dtype=bool)
        for j, i in enumerate(idx):
            out = self.sample(int(i), rng)
            images[j], landmarks[j], flips[j] = out["img"], out["landmarks"], out["flipped"]
        codes = self.subject_code[idx]
        batch = {
            "image": images_t,
            "labels": torch.from_numpy(self.labels[idx]),
            "label_mask": torch.from_numpy(self.mask[idx]),
            "landmarks": torch.from_numpy(landmarks),
            "index": torch.from_numpy(idx),
            "subject": [self.subjects[c] for c in codes],
            "frame": torch.from_numpy(self.frame[idx]),
            "flipped": torch.from_numpy(flips),
        }
        if self.intensity is not None:
            batch["intensity"] = torch.from_numpy(self.intensity[idx])
            batch["intensity_mask"] = torch.from_numpy(self.intensity_mask[idx])
        return batch


def _batch_tensor(shape) -> torch.Tensor:
    """An empty uint8 tensor; in a DataLoader worker, allocated in shared memory
    so that handing the batch to the main process copies nothing (as torch's
    default_collate does)."""
    if torch.utils.data.get_worker_info() is None:
        return torch.empty(shape, dtype=torch.uint8)
    storage = torch.UntypedStorage._new_shared(int(np.prod(shape)))
    return torch.empty(0, dtype=torch.uint8).set_(storage).view(shape)


@FUNCTIONS.register_module()
def collate_batch(batch):
    """The DataLoader ``collate_fn`` for :class:`AUFrames` (``dict(type='collate_batch')``
    in a loader config): batches come collated."""
    if isinstance(batch, dict):
        return batch
    raise TypeError("AUFrames batches are collated by __getitems__; give the DataLoader a "
                    "batch_sampler (or batch_size) and collate_fn=collate_batch")


def make_loader(dataset: AUFrames, batch_size: int = 64, iters_per_epoch: Optional[int] = 100,
                seed: int = 0, num_workers: int = 0, shuffle: bool = False,
                negatives="class") -> DataLoader:
    """A DataLoader over ``dataset`` in this process (a run's loaders are
    mmengine's: :mod:`auzoo.engine.loaders`).

    ``iters_per_epoch`` set: training batches drawn by :class:`AUWeightedBatchSampler`
    (``batch_size`` is the global batch; under torch.distributed each rank
    gets its share). ``None``: every frame once, in order (or shuffled), for
    evaluation.
    """
    if iters_per_epoch is not None:
        from mmengine.dist import get_world_size

        frames = labelled_frames(dataset.labels, dataset.mask, dataset.aus, seed)
        sampler = AUWeightedBatchSampler(frames, batch_size=batch_size // get_world_size(),
                                         iters_per_epoch=iters_per_epoch, negatives=negatives)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_batch,
                          num_workers=num_workers, persistent_workers=num_workers > 0)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_batch,
                      num_workers=num_workers, generator=generator)
