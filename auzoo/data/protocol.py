"""The DISFA evaluation protocol, pinned.

Everything a DISFA result depends on besides the model lives here: which AUs
are scored, what counts as positive, which subjects train and which test in
each fold, and what happens to the frames whose landmarks the dataset's own
Error_LOG marks as bad. A result means nothing without these, so every result
carries :meth:`Protocol.describe`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

# The 27 subjects of DISFA, in order (there is no SN014, SN015, SN019, SN020, SN022).
DISFA_SUBJECTS: Tuple[str, ...] = tuple(
    f"SN{k:03d}" for k in (*range(1, 14), 16, 17, 18, 21, *range(23, 33)))

# The 12 AUs DISFA labels with intensities 0-5, in the order the cache stores them.
DISFA_LABELLED_AUS: Tuple[int, ...] = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)

# Error_LOG_Sheet of DISFA: frames whose landmark annotation is wrong, as
# 1-based inclusive frame ranges (frame 1 = label line 0 = decoded frame 0).
ERROR_LOG_RANGES: Dict[str, Tuple[Tuple[int, int], ...]] = {
    "SN001": ((398, 420), (3190, 3243)),
    "SN002": ((800, 826),),
    "SN004": ((4541, 4555),),
    "SN006": ((1349, 1405),),
    "SN009": ((1736, 1808), (1851, 1885)),
    "SN011": ((4529, 4533), (4830, 4845)),
    "SN021": ((574, 616), (985, 1164), (1190, 1205), (1305, 1338), (1665, 1710),
              (1862, 2477), (2554, 4657), (4710, 4722)),
    "SN023": ((1021, 1049), (3378, 3557), (3584, 3668), (4547, 4621), (4741, 4772),
              (4825, 4845)),
    "SN025": ((4596, 4662), (4816, 4835)),
    "SN027": ((3461, 3494), (4738, 4785)),
    "SN028": ((1875, 1885), (4571, 4690)),
    "SN029": ((4090, 4543),),
    "SN030": ((939, 962), (1406, 1422), (2100, 2132), (2893, 2955)),
}


def error_log_mask(subject: str, n_frames: int) -> np.ndarray:
    """Boolean (n_frames,) mask of the 0-based frames the Error_LOG marks bad."""
    mask = np.zeros(n_frames, dtype=bool)
    for first, last in ERROR_LOG_RANGES.get(subject, ()):
        mask[first - 1:last] = True  # 1-based inclusive -> 0-based half-open
    return mask


BAD_FRAME_POLICIES: Dict[str, str] = {
    "drop": ("JAA-Net's policy: leave out the frames in DISFA's Error_LOG ranges "
             "and every frame without usable landmarks (no aligned image)"),
    "keep": ("ME-GraphAU's policy: keep the Error_LOG frames; frames without usable "
             "landmarks have no aligned image and are still left out"),
}


def check_bad_frames(policy: str) -> str:
    if policy not in BAD_FRAME_POLICIES:
        raise ValueError(f"unknown bad-frame policy {policy!r}; choose one of "
                         f"{', '.join(BAD_FRAME_POLICIES)}")
    return policy


@dataclass(frozen=True)
class Protocol:
    """A dataset's scoring protocol: AUs, threshold, subject-exclusive parts, folds.

    ``folds[k] = (train_parts, test_parts)``. Label columns of a cache index are
    named ``au{N}`` and hold intensities; positive means ``>= threshold``.
    """

    name: str
    aus: Tuple[int, ...]
    threshold: int
    parts: Mapping[str, Tuple[str, ...]]
    folds: Mapping[int, Tuple[Tuple[str, ...], Tuple[str, ...]]]
    reference: str = ""
    label_columns: Tuple[str, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "label_columns", tuple(f"au{a}" for a in self.aus))

    @property
    def subjects(self) -> Tuple[str, ...]:
        return tuple(sorted(s for part in self.parts.values() for s in part))

    def fold_subjects(self, fold: int) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """``(train_subjects, test_subjects)`` of fold ``fold`` (1-based), sorted."""
        if fold not in self.folds:
            raise ValueError(f"{self.name} has folds {sorted(self.folds)}, not {fold!r}")
        train_parts, test_parts = self.folds[fold]
        train = tuple(sorted(s for p in train_parts for s in self.parts[p]))
        test = tuple(sorted(s for p in test_parts for s in self.parts[p]))
        return train, test

    def select_frames(self, index, subjects: Sequence[str], bad_frames: str = "drop"):
        """Rows of a cache index that belong to ``subjects`` under a bad-frame policy.

        ``drop`` leaves out rows flagged ``bad_landmarks`` (Error_LOG ranges and
        frames without usable landmarks); ``keep`` leaves out only the frames
        that have no aligned image. Row order is kept.
        """
        check_bad_frames(bad_frames)
        rows = index[index["subject"].isin(list(subjects))]
        if bad_frames == "drop":
            rows = rows[~rows["bad_landmarks"].to_numpy(bool)]
        else:
            rows = rows[rows["aligned"].to_numpy(bool)]
        return rows

    def labels(self, index) -> np.ndarray:
        """(n, len(aus)) uint8 0/1 labels of index rows: intensity >= threshold."""
        missing = [c for c in self.label_columns if c not in index.columns]
        if missing:
            raise KeyError(f"index has no column(s) {', '.join(missing)}")
        return (index[list(self.label_columns)].to_numpy() >= self.threshold).astype(np.uint8)

    def describe(self, fold: Optional[int] = None, bad_frames: Optional[str] = None) -> dict:
        """What a result was scored under; stored next to every result."""
        folds = {}
        for k in sorted(self.folds):
            train, test = self.fold_subjects(k)
            folds[k] = {"train_parts": list(self.folds[k][0]), "test_parts": list(self.folds[k][1]),
                        "train": list(train), "test": list(test)}
        out = {
            "protocol": self.name,
            "aus": list(self.aus),
            "positive": f"intensity >= {self.threshold}",
            "threshold": self.threshold,
            "parts": {p: list(s) for p, s in self.parts.items()},
            "folds": folds,
            "reference": self.reference,
        }
        if fold is not None:
            self.fold_subjects(fold)
            out["fold"] = fold
        if bad_frames is not None:
            out["bad_frames"] = check_bad_frames(bad_frames)
            out["bad_frames_policy"] = BAD_FRAME_POLICIES[bad_frames]
        return out


DISFA = Protocol(
    name="disfa",
    aus=(1, 2, 4, 6, 9, 12, 25, 26),
    threshold=2,
    parts={
        "part1": ("SN001", "SN002", "SN009", "SN010", "SN016", "SN026", "SN027", "SN030", "SN032"),
        "part2": ("SN006", "SN011", "SN012", "SN013", "SN018", "SN021", "SN024", "SN028", "SN031"),
        "part3": ("SN003", "SN004", "SN005", "SN007", "SN008", "SN017", "SN023", "SN025", "SN029"),
    },
    folds={
        1: (("part1", "part2"), ("part3",)),
        2: (("part1", "part3"), ("part2",)),
        3: (("part2", "part3"), ("part1",)),
    },
    reference="3-fold subject-exclusive protocol of JAA-Net / ARL / ME-GraphAU",
)

PROTOCOLS: Dict[str, Protocol] = {"disfa": DISFA}


def get_protocol(name_or_protocol) -> Protocol:
    if isinstance(name_or_protocol, Protocol):
        return name_or_protocol
    try:
        return PROTOCOLS[str(name_or_protocol).lower()]
    except KeyError:
        raise KeyError(f"unknown protocol {name_or_protocol!r}; known: {', '.join(PROTOCOLS)}") from None


def fold_subjects(fold: int, protocol="disfa") -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """``(train_subjects, test_subjects)`` of a fold of the DISFA protocol."""
    return get_protocol(protocol).fold_subjects(fold)


def select_frames(index, subjects: Sequence[str], bad_frames: str = "drop", protocol="disfa"):
    return get_protocol(protocol).select_frames(index, subjects, bad_frames)


def labels(index, protocol="disfa") -> np.ndarray:
    return get_protocol(protocol).labels(index)


def describe(fold: Optional[int] = None, bad_frames: Optional[str] = None, protocol="disfa") -> dict:
    return get_protocol(protocol).describe(fold, bad_frames)


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
