"""BP4D-Spontaneous (Zhang et al., 2014): its protocol and published facts.

41 subjects x 8 tasks (T1-T8), a FACS-coded segment of each sequence, AU
occurrence 0/1 with 9 = not coded. The 12 AUs of the standard protocol, the
three subject-exclusive parts and folds of JAA-Net / ARL / ME-GraphAU, and the
frame counts of the two published frame sets a prepared copy is compared
with. Facts: reference notes ``bp4d.md``.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from auzoo.data.datasets.base import AUDataset
from auzoo.registry import DATASETS

BP4D_SUBJECTS: Tuple[str, ...] = (tuple(f"F{k:03d}" for k in range(1, 24))
                                  + tuple(f"M{k:03d}" for k in range(1, 19)))
BP4D_TASKS: Tuple[str, ...] = tuple(f"T{k}" for k in range(1, 9))
BP4D_AUS: Tuple[int, ...] = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
# The occurrence CSVs code AUs up to 39 (columns past them hold 9 only).
MAX_CODED_AU = 39
CSV_NOT_CODED = 9

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


@DATASETS.register_module(name="bp4d")
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
    reference = ("3-fold subject-exclusive protocol of JAA-Net / ARL / ME-GraphAU "
                 "(mean of the 3 test folds)")

    @classmethod
    def from_meta(cls, meta: dict) -> "Bp4dDataset":
        ds = cls()
        coded = meta.get("coded_aus")
        if coded:  # the AU columns the copy's CSVs really have
            ds.coded_aus = tuple(int(a) for a in coded)
        return ds

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
        return lines


BP4D = Bp4dDataset()
