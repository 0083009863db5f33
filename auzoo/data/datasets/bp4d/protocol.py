"""BP4D-Spontaneous (Zhang et al., 2014): its protocol and published facts.

41 subjects x 8 tasks (T1-T8), a FACS-coded segment of each sequence, AU
occurrence 0/1 with 9 = not coded. The 12 AUs of the standard protocol, the
three subject-exclusive parts and folds of JAA-Net / ARL / ME-GraphAU, and the
frame counts of the two published frame sets a prepared copy is compared
with. Intensity: the release's intensity codes (0-5, 9 = not coded) of the
FERA 2015 sub-challenge's five AUs 6, 10, 12, 14, 17, kept in the cache's
``au{N}_intensity`` columns. Facts: reference notes ``bp4d.md``, ``intensity.md``.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from auzoo.data.cache_format import intensity_column
from auzoo.data.datasets.base import AUDataset
from auzoo.registry import PROTOCOLS

BP4D_SUBJECTS: Tuple[str, ...] = (tuple(f"F{k:03d}" for k in range(1, 24))
                                  + tuple(f"M{k:03d}" for k in range(1, 19)))
BP4D_TASKS: Tuple[str, ...] = tuple(f"T{k}" for k in range(1, 9))
BP4D_AUS: Tuple[int, ...] = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
# The occurrence CSVs code AUs up to 39 (columns past them hold 9 only).
MAX_CODED_AU = 39
CSV_NOT_CODED = 9
# The intensity sub-challenge of FERA 2015 (BP4D's intensity codes).
FERA2015_INTENSITY_AUS: Tuple[int, ...] = (6, 10, 12, 14, 17)

PARTS = {
    "part1": ("F001", "F002", "F008", "F009", "F010", "F016", "F018", "F023",
              "M001", "M004", "M007", "M008", "M012", "M014"),
    "part2": ("F003", "F005", "F011", "F013", "F020", "F022",
              "M002", "M005", "M010", "M011", "M013", "M016", "M017", "M018"),
    "part3": ("F004", "F006", "F007", "F012", "F014", "F015", "F017", "F019", "F021",
              "M003", "M006", "M009", "M015"),
}

# Frames per part in the two published frame sets: ME-GraphAU keeps every CSV
# row; JAA-Net drops 271 of them (probably frames without landmarks).
PUBLISHED_FRAME_SETS: Dict[str, Dict[str, int]] = {
    "ME-GraphAU (all CSV rows)": {"part1": 50631, "part2": 50182, "part3": 46034, "total": 146847},
    "JAA-Net": {"part1": 50601, "part2": 50166, "part3": 45809, "total": 146576},
}
SEQUENCES = len(BP4D_SUBJECTS) * len(BP4D_TASKS)

# ME-GraphAU's class weights per fold (BP4D_AUS order): w_i = (1/r_i) / sum_j(1/r_j) * 12,
# r_i = AU i's positive rate in the fold's training rows. A checksum for label parsing.
PUBLISHED_CLASS_WEIGHTS = {
    1: (1.342985, 1.689665, 1.248091, 0.561356, 0.433044, 0.435894, 0.457287, 0.541004,
        1.408054, 0.722762, 1.493145, 1.666711),
    2: (1.191051, 1.337315, 1.246995, 0.558933, 0.468168, 0.418041, 0.440099, 0.581900,
        1.670360, 0.774237, 1.586367, 1.726535),
    3: (1.132895, 1.519623, 1.308560, 0.552098, 0.507140, 0.443118, 0.474432, 0.535111,
        1.496040, 0.749851, 1.582501, 1.698632),
}


@PROTOCOLS.register_module(name="bp4d")
class Bp4dDataset(AUDataset):
    """BP4D's 3-fold protocol on the 12 standard AUs (positive = coded 1)."""

    name = "bp4d"
    aus = BP4D_AUS
    coded_aus = tuple(range(1, MAX_CODED_AU + 1))
    threshold = 1
    max_value = 1
    value_name = "occurrence"
    parts = PARTS
    fold_parts = {
        1: (("part1", "part2"), ("part3",)),
        2: (("part1", "part3"), ("part2",)),
        3: (("part2", "part3"), ("part1",)),
    }
    bad_frame_policies = {
        "drop": ("leave out coded frames without an aligned face (no face found, no landmark "
                 "entry) and those whose image is missing; ME-GraphAU's frame set keeps all "
                 "146,847 coded rows, JAA-Net's 146,576 drops 271 without landmarks"),
    }
    reference = ("3-fold subject-exclusive protocol of JAA-Net / ARL / ME-GraphAU "
                 "(mean of the 3 test folds)")
    prepare_with = ".prepare:prepare_bp4d"
    synth_with = ".synth:synth_bp4d"
    intensity_reference = ("FERA 2015's intensity AUs 6, 10, 12, 14, 17 (0-5; the release's 9 "
                           "masked per AU, as FERA's evaluation drops it); auzoo's 3 occurrence "
                           "folds, not FERA 2015's train / development split")

    @classmethod
    def from_meta(cls, meta: dict) -> "Bp4dDataset":
        ds = cls()
        coded = meta.get("coded_aus")
        if coded:  # the AU columns the copy's CSVs really have
            ds.coded_aus = tuple(int(a) for a in coded)
        if meta.get("intensity_aus"):  # the intensity files the copy has
            ds.intensity_aus = tuple(int(a) for a in meta["intensity_aus"])
        return ds

    def intensity_column(self, au: int) -> str:
        """BP4D codes intensity apart from occurrence: ``au{N}_intensity``."""
        return intensity_column(au)

    def label_checks(self, records: Dict[str, dict], synthetic: bool) -> List[str]:
        """Coded CSV rows against ME-GraphAU's frame set (every CSV row), and frames
        with an aligned face against JAA-Net's (which drops frames without landmarks)."""
        why = " (expected: this is a synthetic BP4D written by auzoo synth)" if synthetic else ""
        lines = []
        for (name, ref), key in zip(PUBLISHED_FRAME_SETS.items(), ("csv_rows", "aligned_frames")):
            got = {p: sum(r[key] for s, r in records.items() if s in subjects)
                   for p, subjects in self.parts.items()}
            got["total"] = sum(r[key] for r in records.values())
            what = "coded CSV rows" if key == "csv_rows" else "frames with an aligned face"
            if set(records) != set(BP4D_SUBJECTS):
                lines.append(f"{what}: {got['total']:,}; not compared with the {name} frame set "
                             f"({len(records)} of BP4D's 41 subjects present)")
                continue
            diff = [f"{k} {got[k]:,} vs {v:,}" for k, v in ref.items() if got[k] != v]
            lines.append(f"{what} match the {name} frame set ({ref['total']:,})" if not diff
                         else f"{what} differ from the {name} frame set{why}: " + ", ".join(diff))
        if set(records) == set(BP4D_SUBJECTS) and all("positives" in r for r in records.values()):
            lines.append(self._weight_check(records, why))
        return lines

    def _weight_check(self, records: Dict[str, dict], why: str) -> str:
        """Class weights of each fold's training rows against ME-GraphAU's."""
        worst = 0.0
        for k, ref in PUBLISHED_CLASS_WEIGHTS.items():
            train = self.fold_subjects(k)[0]
            pos = np.array([sum(records[s]["positives"][f"au{a}"] for s in train) for a in self.aus])
            rows = sum(records[s]["csv_rows"] for s in train)
            inv = rows / np.maximum(pos, 1)
            worst = max(worst, float(np.abs(inv / inv.sum() * len(self.aus) - ref).max()))
        if worst < 1e-3:
            return "class weights of the 3 training folds match ME-GraphAU's (within 0.001)"
        return f"class weights differ from ME-GraphAU's{why}: largest difference {worst:.4f}"


BP4D = Bp4dDataset()
