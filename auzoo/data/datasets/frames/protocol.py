"""A lab's own labelled frames (``auzoo prepare frames LABELS.csv``).

Unlike DISFA and BP4D, the protocol comes with the data: the AUs are the
CSV's AU columns, the folds are pinned in the cache when it is written (from
the CSV's ``fold`` column, or made by ``--folds K``), and the positive rule is
``value >= threshold`` with the threshold given at prepare time (1 for 0/1
labels). All of it is read back from the cache's ``meta.json``. A CSV whose
values go above 1 and stay within 0-5 codes FACS intensities: an intensity
model trains on it as on DISFA.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np

from auzoo.data.datasets.base import AUDataset
from auzoo.registry import PROTOCOLS


def balanced_folds(frames_per_subject: Mapping[str, int], k: int) -> Dict[int, Tuple[str, ...]]:
    """``k`` subject-exclusive test sets with frame counts as even as possible.

    Greedy: subjects from the most frames to the fewest (ties by name), each
    to the fold with the fewest frames so far (ties: the lowest fold). The
    result depends only on the counts and names, so a rerun gives the same folds.
    """
    subjects = sorted(frames_per_subject, key=lambda s: (-frames_per_subject[s], s))
    if not 2 <= k <= len(subjects):
        raise ValueError(f"--folds {k}: need 2 to {len(subjects)} folds for "
                         f"{len(subjects)} subject(s)")
    load = np.zeros(k, dtype=np.int64)
    members: List[List[str]] = [[] for _ in range(k)]
    for s in subjects:
        f = int(np.argmin(load))
        members[f].append(s)
        load[f] += frames_per_subject[s]
    return {i + 1: tuple(sorted(m)) for i, m in enumerate(members)}


@PROTOCOLS.register_module(name="frames")
class OwnFramesDataset(AUDataset):
    """A lab's own AU-coded frames; everything but the rule's form comes from the cache."""

    name = "frames"
    value_name = "value"
    reference = "subject-exclusive folds pinned in the cache by auzoo prepare frames"
    intensity_reference = "the CSV's 0-5 values; its subject-exclusive folds"
    prepare_with = ".prepare:prepare_frames"

    def __init__(self, aus: Sequence[int] = (), threshold: int = 1, max_value: int = 254,
                 test_folds: Mapping[int, Sequence[str]] = (), label: str = "frames"):
        self.aus = tuple(int(a) for a in aus)
        self.coded_aus = self.aus
        # values above 1 and none above 5: the CSV codes FACS intensities 0-5
        self.intensity_aus = self.aus if 1 < int(max_value) <= 5 else ()
        self.threshold = int(threshold)
        self.max_value = int(max_value)
        self.label = label
        tests = {int(k): tuple(sorted(v)) for k, v in dict(test_folds).items()}
        self.parts = {f"fold{k}": tests[k] for k in sorted(tests)}
        self.fold_parts = {k: (tuple(f"fold{j}" for j in sorted(tests) if j != k), (f"fold{k}",))
                           for k in sorted(tests)}

    @classmethod
    def from_meta(cls, meta: dict) -> "OwnFramesDataset":
        proto = meta.get("protocol") or {}
        return cls(aus=proto.get("aus", ()), threshold=proto.get("threshold", 1),
                   max_value=proto.get("max_value", 254),
                   test_folds={int(k): v for k, v in proto.get("test_folds", {}).items()},
                   label=proto.get("label", "frames"))

    def to_meta(self) -> dict:
        return {"aus": list(self.aus), "threshold": self.threshold, "max_value": self.max_value,
                "test_folds": {str(k): list(v) for k, v in self.parts_by_fold().items()},
                "label": self.label}

    def parts_by_fold(self) -> Dict[int, Tuple[str, ...]]:
        return {k: self.parts[f"fold{k}"] for k in self.fold_parts}

    def describe(self, fold=None, bad_frames=None, threshold=None) -> dict:
        out = super().describe(fold, bad_frames, threshold)
        out["source"] = self.label
        return out
