"""What a dataset is to auzoo: the interface every registered dataset implements.

A dataset's protocol (registered in :data:`auzoo.registry.PROTOCOLS`) says
which AUs it codes and which a result is scored on, what makes a label
positive, its subject-exclusive parts and folds, and its bad-frame policies;
it also names the functions ``auzoo prepare`` and ``auzoo synth`` run for it
(``prepare_with``, ``synth_with``). A prepared cache names its dataset in
``meta.json``; :func:`~auzoo.data.datasets.lookup.dataset_from_meta` turns
that name back into the object. Datasets whose folds come with the data (a
lab's own frames) read them from the cache's meta.

Labels in a cache are uint8 values per ``au{N}`` column: 0/1 occurrence or
0-5 intensity, and ``NOT_CODED`` (255) where an AU was not coded for a frame.
:meth:`AUDataset.labels` turns them into 0/1 labels plus a mask of what is
known; a not-coded label is neither positive nor negative anywhere.
:meth:`AUDataset.intensities` reads the 0-5 intensities of the AUs a dataset
codes them for (``intensity_aus``), from the label columns (DISFA, a lab's
0-5 CSV) or from ``au{N}_intensity`` columns (BP4D), with the same mask.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from auzoo.data.cache_format import NOT_CODED, label_column

INTENSITY_SCALE = "0-5 (0 absent, 1-5 = FACS A-E)"

Folds = Dict[int, Tuple[Tuple[str, ...], Tuple[str, ...]]]

DEFAULT_BAD_FRAME_POLICIES: Dict[str, str] = {
    "drop": "leave out the frames without an aligned face (no face found, or unusable landmarks)",
}


class AUDataset:
    """A dataset's protocol. Subclasses set the class attributes below.

    ``parts`` maps part names to subjects; ``fold_parts[k] = (train_parts,
    test_parts)``. ``value_name`` says what a label value is ("intensity",
    "occurrence"); ``max_value`` is the largest coded value, so a threshold
    above it (no frame could be positive) is refused.
    """

    name: str = ""
    aus: Tuple[int, ...] = ()
    coded_aus: Tuple[int, ...] = ()
    threshold: int = 1
    max_value: int = 1
    value_name: str = "occurrence"
    parts: Mapping[str, Tuple[str, ...]] = {}
    fold_parts: Mapping[int, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {}
    bad_frame_policies: Mapping[str, str] = DEFAULT_BAD_FRAME_POLICIES
    reference: str = ""
    # AUs coded with intensities 0-5 (the AUs an intensity model predicts by
    # default), and what an intensity result is scored under
    intensity_aus: Tuple[int, ...] = ()
    intensity_reference: str = ""
    # What ``auzoo prepare NAME`` and ``auzoo synth NAME`` run, as "module:function"
    # ("" for none; a module starting with "." is relative to this class's
    # package). Named, not imported, so that reading a cache loads no video
    # decoder: see auzoo.data.datasets.lookup.
    prepare_with: str = ""
    synth_with: str = ""

    @classmethod
    def from_meta(cls, meta: dict) -> "AUDataset":
        """The dataset a cache's ``meta.json`` describes (fixed protocols ignore it)."""
        return cls()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, aus={self.aus})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = None

    # ------------------------------------------------------------ subjects and folds

    @property
    def subjects(self) -> Tuple[str, ...]:
        return tuple(sorted(s for part in self.parts.values() for s in part))

    @property
    def folds(self) -> Folds:
        """``{k: (train_subjects, test_subjects)}``, sorted tuples."""
        return {k: self.fold_subjects(k) for k in sorted(self.fold_parts)}

    def fold_subjects(self, fold: int) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """``(train_subjects, test_subjects)`` of fold ``fold``, sorted."""
        if fold not in self.fold_parts:
            have = ", ".join(str(k) for k in sorted(self.fold_parts)) or "none"
            raise ValueError(f"{self.name} has no fold {fold!r}; its folds are: {have}")
        train_parts, test_parts = self.fold_parts[fold]
        train = tuple(sorted(s for p in train_parts for s in self.parts[p]))
        test = tuple(sorted(s for p in test_parts for s in self.parts[p]))
        return train, test

    # ------------------------------------------------------------ frames and labels

    def check_bad_frames(self, policy: str) -> str:
        if policy not in self.bad_frame_policies:
            raise ValueError(f"unknown bad-frame policy {policy!r} for {self.name}; choose one of "
                             f"{', '.join(self.bad_frame_policies)}")
        return policy

    def select_frames(self, index, subjects: Sequence[str], bad_frames: str = "drop"):
        """Rows of a cache index of ``subjects`` under a bad-frame policy, order kept.

        ``drop`` leaves out rows flagged ``bad_landmarks``; any other policy
        leaves out only frames without an aligned image (they hold no face).
        """
        self.check_bad_frames(bad_frames)
        rows = index[index["subject"].isin(list(subjects))]
        if bad_frames == "drop":
            return rows[~rows["bad_landmarks"].to_numpy(bool)]
        return rows[rows["aligned"].to_numpy(bool)]

    def check_threshold(self, threshold: Optional[int]) -> int:
        t = self.threshold if threshold is None else threshold
        if isinstance(t, float) and t.is_integer():
            t = int(t)
        if not isinstance(t, (int, np.integer)) or isinstance(t, bool) or not 1 <= t <= self.max_value:
            raise ValueError(f"threshold {threshold!r} is not an integer in 1-{self.max_value}: "
                             f"{self.name} codes {self.value_name} 0-{self.max_value}")
        return int(t)

    def check_aus(self, aus: Optional[Sequence[int]], columns=None) -> Tuple[int, ...]:
        """``aus`` as a tuple (default: the protocol's); an AU not coded is refused by name."""
        aus = self.aus if aus is None else tuple(int(a) for a in aus)
        coded = self.coded_aus
        if columns is not None:
            coded = tuple(a for a in coded if label_column(a) in columns)
        absent = [a for a in aus if a not in coded]
        if absent or not aus:
            raise ValueError(
                f"AU(s) {', '.join(map(str, absent)) or '(none asked)'} not coded by {self.name}: "
                f"asked for AUs {list(aus)}, {self.name} codes AUs {list(coded)}")
        return aus

    def labels(self, index, aus: Optional[Sequence[int]] = None,
               threshold: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
        """``(labels, known)`` of index rows: uint8 (n, A) 0/1 and bool (n, A).

        Positive = value >= threshold (default: the dataset's); a not-coded
        value is 0 in ``labels`` and False in ``known``.
        """
        aus = self.check_aus(aus, index.columns)
        t = self.check_threshold(threshold)
        values = index[[label_column(a) for a in aus]].to_numpy(np.uint8)
        known = values != NOT_CODED
        return ((values >= t) & known).astype(np.uint8), known

    # ------------------------------------------------------------ intensity

    def intensity_column(self, au: int) -> str:
        """The index column holding AU ``au``'s intensity (here: its label column)."""
        return label_column(au)

    def check_intensity_aus(self, aus: Optional[Sequence[int]], columns=None) -> Tuple[int, ...]:
        """``aus`` (default: ``intensity_aus``) if every one is coded with intensities."""
        coded = tuple(a for a in self.intensity_aus
                      if columns is None or self.intensity_column(a) in columns)
        if not coded:
            raise ValueError(f"{self.name} codes no AU intensity here (its labels are "
                             f"{self.value_name} 0-{self.max_value}): an intensity model cannot be "
                             "trained or scored on it")
        aus = coded if aus is None else tuple(int(a) for a in aus)
        absent = [a for a in aus if a not in coded]
        if absent or not aus:
            raise ValueError(
                f"AU(s) {', '.join(map(str, absent)) or '(none asked)'} not coded with intensities "
                f"by {self.name}: asked for AUs {list(aus)}, {self.name} codes intensities of AUs "
                f"{list(coded)}")
        return aus

    def intensities(self, index, aus: Optional[Sequence[int]] = None
                    ) -> Tuple[np.ndarray, np.ndarray]:
        """``(intensities, known)`` of index rows: float32 (n, A) on the 0-5 scale
        (0 where not coded) and bool (n, A)."""
        aus = self.check_intensity_aus(aus, index.columns)
        values = index[[self.intensity_column(a) for a in aus]].to_numpy(np.uint8)
        known = values != NOT_CODED
        if (values[known] > 5).any():
            raise ValueError(f"{self.name}: intensity values above 5 in "
                             f"{[self.intensity_column(a) for a in aus]}")
        return np.where(known, values, 0).astype(np.float32), known

    # ------------------------------------------------------------ what a result records

    def positive_rule(self, threshold: Optional[int] = None) -> str:
        return f"{self.value_name} >= {self.check_threshold(threshold)}"

    def describe(self, fold: Optional[int] = None, bad_frames: Optional[str] = None,
                 threshold: Optional[int] = None) -> dict:
        """What a result was scored under; stored next to every result."""
        folds = {}
        for k in sorted(self.fold_parts):
            train, test = self.fold_subjects(k)
            folds[k] = {"train_parts": list(self.fold_parts[k][0]),
                        "test_parts": list(self.fold_parts[k][1]),
                        "train": list(train), "test": list(test)}
        t = self.check_threshold(threshold)
        out = {
            "dataset": self.name,
            "protocol": self.name,
            "aus": list(self.aus),
            "coded_aus": list(self.coded_aus),
            "positive": self.positive_rule(t),
            "threshold": t,
            "threshold_default": self.threshold,
            "not_coded": "a label not coded for a frame counts in no loss, weight or metric",
            "parts": {p: list(s) for p, s in self.parts.items()},
            "folds": folds,
            "reference": self.reference,
        }
        if self.intensity_aus:
            out["intensity"] = {"aus": list(self.intensity_aus), "scale": INTENSITY_SCALE,
                                "not_coded": "masked in every loss and metric",
                                "reference": self.intensity_reference}
        if fold is not None:
            self.fold_subjects(fold)
            out["fold"] = fold
        if bad_frames is not None:
            out["bad_frames"] = self.check_bad_frames(bad_frames)
            out["bad_frames_policy"] = self.bad_frame_policies[bad_frames]
        return out

    def label_checks(self, records: Dict[str, dict], synthetic: bool) -> list:
        """Plain-language comparison of a prepared cache with published counts."""
        return []


def val_split(train_subjects: Sequence[str], n_val: int = 3,
              seed: int = 0) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """Hold ``n_val`` training subjects out for model selection (``--select-on val``).

    Returns ``(train, val)``, both sorted; the same seed gives the same split.
    """
    subjects = sorted(train_subjects)
    if not 0 < n_val < len(subjects):
        raise ValueError(f"cannot hold out {n_val} of {len(subjects)} training subjects")
    rng = np.random.default_rng(seed)
    val = set(rng.choice(subjects, size=n_val, replace=False).tolist())
    return tuple(s for s in subjects if s not in val), tuple(sorted(val))

