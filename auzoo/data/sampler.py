"""AU-weighted random batches (TRA-Net, section 4.1) and class weights.

DISFA is very imbalanced: AU25 is positive in about a quarter of the frames,
AU9 in a few percent, and half the frames show no AU at all. The paper draws
each batch of 64 so that frames positive for rare AUs come more often, with
probabilities from per-AU weights computed on the training fold.

Class weights (ME-GraphAU / JAA-Net)::

    r_i = positive rate of AU i in the training frames
    w_i = (1 / r_i) / sum_j (1 / r_j) * n_AU

Frame weights (the sampling probability is proportional to them)::

    omega(frame) = sum_i y_i * w_i                 if the frame shows some AU
    omega(frame) = w_0 = (1 / r_0) / sum_j (1 / r_j) * n_AU   otherwise

with r_0 the fraction of frames showing no AU. Because r_i * w_i is the same
for every AU, each AU adds the same total weight through its positives (a rare
AU's few positives are drawn as often, in total, as a common AU's many; frames
showing several AUs add up their weights), and, by default
(``negatives='class'``), the all-negative frames together get that same share
too: they are weighted as a class of their own. An AU without any positive
frame gets weight 0 and a warning (it cannot be sampled, and is left out of
the normalisation).

Labels that are not coded (``mask`` False: BP4D's 9, an empty cell of an own
CSV) count neither as positive nor as negative: r_i is the positive rate among
the frames where AU i is coded, a frame is "all-negative" when none of its
coded AUs is positive, and a frame with no coded AU at all is never drawn.

``negatives`` sets the all-negative frames' share (see docs/data.md for what
each does to the AUs' rates in the batches):

* ``'class'`` -- the paper's sampler as above (a class of their own);
* a float ``x >= 0`` -- ``x`` times that class weight (``0.0``: never drawn);
* ``'natural'`` -- all-negative frames drawn at their share of the data:
  their total probability is r_0, so the batches hold as many frames with no
  AU as the training fold does, and only the positives are re-weighted.

Batches are drawn with replacement, ``iters_per_epoch`` of them an epoch
(paper: 100 batches of 64), from a generator seeded with ``(seed, epoch)``.
Under DDP every rank draws the same global batches and keeps its slice
(rank r of W takes rows ``r*B/W : (r+1)*B/W`` of each global batch of B), so
the ranks together see exactly the single-process epoch, each drawn sample on
one rank, in the same number of steps.

:class:`ShuffledBatchSampler` is the other recipe: an epoch is one shuffled
pass over the training frames, each drawn once (ME-GraphAU and JAA-Net, whose
losses weight the AUs instead; weighting both the draws and the loss would
correct the imbalance twice). Both are batch samplers registered in
``DATA_SAMPLERS`` (a child of mmengine's), named in a config by
``train_dataloader.sampler.type`` and built by mmengine's
``Runner.build_dataloader`` as a loader's ``batch_sampler``: they take what it
passes, the loader's ``sampler`` (mmengine's ``DefaultSampler`` over
:class:`~auzoo.data.au_frames.AUFrames`, which carries the dataset and the
run's seed) and the per-rank ``batch_size``; rank and world size are
mmengine's. :func:`labelled_frames` stands in for that sampler where only
labels are at hand.
"""
from __future__ import annotations

import warnings
from types import SimpleNamespace
from typing import Iterator, List, Optional, Sequence, Union

import numpy as np
from torch.utils.data import Sampler

from auzoo.registry import DATA_SAMPLERS

Negatives = Union[str, float]


def _coded(labels: np.ndarray, mask: Optional[np.ndarray]):
    labels = np.asarray(labels)
    if labels.ndim != 2 or not len(labels):
        raise ValueError(f"labels must be a non-empty (frames, AUs) 0/1 array, got shape {labels.shape}")
    known = np.ones(labels.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if known.shape != labels.shape:
        raise ValueError(f"mask {known.shape} and labels {labels.shape} differ in shape")
    return (labels > 0) & known, known


def positive_rates(labels: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Each AU's positive rate among the frames where it is coded (0 if never coded)."""
    positive, known = _coded(labels, mask)
    coded = known.sum(axis=0)
    return np.where(coded > 0, positive.sum(axis=0) / np.maximum(coded, 1), 0.0)


def _inverse_rate_weights(rates: np.ndarray, n_au: int, names: Optional[Sequence] = None) -> np.ndarray:
    absent = rates <= 0
    if absent.any():
        which = [str(names[i]) if names is not None else f"#{i}" for i in np.flatnonzero(absent)]
        warnings.warn(f"no positive frame for AU {', '.join(which)} in the training labels: "
                      "weight 0", stacklevel=3)
    inv = np.where(absent, 0.0, 1.0 / np.where(absent, 1.0, rates))
    return inv / inv.sum() * n_au


def class_weights(labels: np.ndarray, aus: Optional[Sequence[int]] = None,
                  mask: Optional[np.ndarray] = None) -> np.ndarray:
    """ME-GraphAU's per-AU weights w_i = (1/r_i) / sum_j(1/r_j) * n_AU, float64 (n_AU,)."""
    rates = positive_rates(labels, mask)
    if not (rates > 0).any():
        raise ValueError("no AU has a positive frame in the training labels")
    return _inverse_rate_weights(rates, len(rates), aus)


def frame_weights(labels: np.ndarray, aus: Optional[Sequence[int]] = None,
                  mask: Optional[np.ndarray] = None, negatives: Negatives = "class") -> np.ndarray:
    """Sampling weight of each frame (see the module docstring), float64 (n,)."""
    positive, known = _coded(labels, mask)
    rates = positive_rates(labels, mask)
    if not (rates > 0).any():
        raise ValueError("no AU has a positive frame in the training labels")
    w = _inverse_rate_weights(rates, len(rates), aus)
    weights = positive @ w
    none = ~positive.any(axis=1) & known.any(axis=1)
    if none.any():
        r0 = none.sum() / known.any(axis=1).sum()
        inv = 1.0 / rates[rates > 0]
        class_w = (1.0 / r0) / inv.sum() * len(rates)
        if negatives == "class":
            weights[none] = class_w
        elif negatives == "natural":
            total = weights.sum() * r0 / (1.0 - r0) if r0 < 1 else 1.0
            weights[none] = total / none.sum()
        elif isinstance(negatives, (int, float)) and not isinstance(negatives, bool) and negatives >= 0:
            weights[none] = class_w * float(negatives)
        else:
            raise ValueError(f"negatives must be 'class', 'natural' or a weight >= 0, not {negatives!r}")
    return weights


def expected_batch_rates(labels: np.ndarray, mask: Optional[np.ndarray] = None,
                         negatives: Negatives = "class") -> np.ndarray:
    """Each AU's positive rate in the sampler's batches (the expectation, exact)."""
    positive, known = _coded(labels, mask)
    p = frame_weights(labels, mask=mask, negatives=negatives)
    p = p / p.sum()
    return (p @ positive) / np.maximum(p @ known, 1e-12)


def labelled_frames(labels: np.ndarray, mask: Optional[np.ndarray] = None,
                    aus: Optional[Sequence[int]] = None, seed: int = 0) -> SimpleNamespace:
    """What a batch sampler reads from the loader's sampler (``.dataset.labels``,
    ``.dataset.mask``, ``.dataset.aus``, ``.seed``), from bare labels."""
    return SimpleNamespace(dataset=SimpleNamespace(labels=np.asarray(labels), mask=mask, aus=aus),
                           seed=seed)


class GlobalBatchSampler(Sampler[List[int]]):
    """What auzoo's training samplers share: an epoch is a list of *global*
    batches (``batch_size`` per rank, times the world size) drawn from a
    generator seeded with ``(seed, epoch)``, the same on every rank; rank r of
    W yields rows ``r*B/W : (r+1)*B/W`` of each, so the ranks together see
    exactly the single-process epoch. Subclasses give :meth:`global_batches`
    and ``__len__``. ``sampler`` is the loader's sampler over the frames (its
    ``dataset`` has ``labels``, ``mask`` and ``aus``; its ``seed`` is the
    run's); ``world_size`` and ``rank`` default to mmengine's.

    ``set_epoch(e)`` fixes the epoch drawn next (call it before each epoch, as
    with DistributedSampler); without it each pass moves to the next epoch.
    """

    def __init__(self, sampler, batch_size: int, world_size: Optional[int] = None,
                 rank: Optional[int] = None):
        from mmengine.dist import get_dist_info

        dist_rank, dist_world = get_dist_info()
        world_size = dist_world if world_size is None else int(world_size)
        rank = dist_rank if rank is None else int(rank)
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world size {world_size}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be positive, not {batch_size}")
        frames = sampler.dataset
        self.labels, self.mask = frames.labels, getattr(frames, "mask", None)
        self.aus = getattr(frames, "aus", None)
        self.batch_size = int(batch_size) * world_size
        self.seed = int(getattr(sampler, "seed", None) or 0)
        self.world_size, self.rank = world_size, rank
        self.epoch = 0

    @property
    def per_rank(self) -> int:
        return self.batch_size // self.world_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def generator(self, epoch: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch])

    def global_batches(self, epoch: Optional[int] = None) -> Sequence[np.ndarray]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[List[int]]:
        batches = self.global_batches(self.epoch)
        self.epoch += 1
        lo = self.rank * self.per_rank
        for batch in batches:
            yield batch[lo:lo + self.per_rank].tolist()


@DATA_SAMPLERS.register_module()
class AUWeightedBatchSampler(GlobalBatchSampler):
    """Batches of dataset indices drawn by AU-weighted sampling; DDP-aware.

    The frames' labels, in dataset order, and their mask (True where coded)
    come from ``sampler.dataset``. ``batch_size`` is each rank's share of the
    global batch (paper: 64 in all; see :class:`GlobalBatchSampler`).
    """

    def __init__(self, sampler, batch_size: int = 64, iters_per_epoch: int = 100,
                 negatives: Negatives = "class", world_size: Optional[int] = None,
                 rank: Optional[int] = None):
        super().__init__(sampler, batch_size, world_size, rank)
        if iters_per_epoch < 1:
            raise ValueError(f"iters_per_epoch must be positive, not {iters_per_epoch}")
        self.weights = frame_weights(self.labels, self.aus, self.mask, negatives)
        self.negatives = negatives
        self.probabilities = self.weights / self.weights.sum()
        self.iters_per_epoch = iters_per_epoch

    def global_batches(self, epoch: Optional[int] = None) -> np.ndarray:
        """(iters_per_epoch, batch_size) indices of one epoch, the same on every rank."""
        rng = self.generator(self.epoch if epoch is None else epoch)
        draws = rng.choice(len(self.probabilities), size=self.iters_per_epoch * self.batch_size,
                           replace=True, p=self.probabilities)
        return draws.reshape(self.iters_per_epoch, self.batch_size)

    def __len__(self) -> int:
        return self.iters_per_epoch


@DATA_SAMPLERS.register_module()
class ShuffledBatchSampler(GlobalBatchSampler):
    """Batches of one shuffled pass over the frames, each drawn once; DDP-aware.

    The plain recipe of methods that weight their loss instead of their draws
    (ME-GraphAU, JAA-Net: ``DataLoader(shuffle=True)``). Frames with no coded
    AU are left out, as by the weighted sampler. ``iters_per_epoch=None``
    makes an epoch one whole pass; its last, partial batch is kept in one
    process (as torch's ``drop_last=False``) and dropped under DDP, where
    every rank needs a slice. An ``iters_per_epoch`` caps the epoch at that
    many batches (a short demo epoch); the next epoch starts a new pass.
    Signature as :class:`AUWeightedBatchSampler`'s, so a config changes
    ``type`` and nothing else; ``negatives`` is not taken.
    """

    def __init__(self, sampler, batch_size: int = 64, iters_per_epoch: Optional[int] = None,
                 world_size: Optional[int] = None, rank: Optional[int] = None):
        super().__init__(sampler, batch_size, world_size, rank)
        _, known = _coded(self.labels, self.mask)
        self.indices = np.flatnonzero(known.any(axis=1))
        if not len(self.indices):
            raise ValueError("no frame has a coded AU")
        if iters_per_epoch is not None and iters_per_epoch < 1:
            raise ValueError(f"iters_per_epoch must be positive or None, not {iters_per_epoch}")
        self.iters_per_epoch = iters_per_epoch

    def __len__(self) -> int:
        if self.iters_per_epoch is not None:
            return self.iters_per_epoch
        n = len(self.indices)
        return n // self.batch_size if self.world_size > 1 else -(-n // self.batch_size)

    def global_batches(self, epoch: Optional[int] = None) -> List[np.ndarray]:
        """One epoch's global batches (the same on every rank)."""
        rng = self.generator(self.epoch if epoch is None else epoch)
        order = self.indices[rng.permutation(len(self.indices))]
        if self.iters_per_epoch is not None:
            while len(order) < self.iters_per_epoch * self.batch_size:  # a pass is shorter
                order = np.concatenate([order, self.indices[rng.permutation(len(self.indices))]])
        return [order[i * self.batch_size:(i + 1) * self.batch_size] for i in range(len(self))]
