"""DISFA (Mavadati et al., 2013): its protocol and everything else DISFA-specific.

The subjects, the 12 labelled AUs and the 8 scored ones, positive =
intensity >= 2, the three subject-exclusive parts and folds of JAA-Net / ARL /
ME-GraphAU, the dataset's own Error_LOG of bad landmark annotations and the
two bad-frame policies built on it, and the published label counts a
prepared copy is checked against. Facts: reference notes ``disfa.md``.

Why >= 2: the TRA-Net paper counts a frame as positive at intensity "equal
or higher than C-level"; the common protocol (JAA-Net, ME-GraphAU) and the
published label counts use intensity >= 2, while FACS lettering (A=1, B=2,
C=3) would read as >= 3. The default is >= 2; ``data.threshold`` overrides it
and every result records the rule it was scored under.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from auzoo.data.datasets.base import AUDataset
from auzoo.registry import PROTOCOLS

# The 27 subjects, in order (there is no SN014, SN015, SN019, SN020, SN022).
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

BAD_FRAME_POLICIES: Dict[str, str] = {
    "drop": ("JAA-Net's policy: leave out the frames in DISFA's Error_LOG ranges "
             "and every frame without usable landmarks (no aligned image)"),
    "keep": ("ME-GraphAU's policy: keep the Error_LOG frames; frames without usable "
             "landmarks have no aligned image and are still left out"),
}

# What a real, complete DISFA gives: label lines per subject, frames with
# intensity >= 2 over all label lines of all 27 subjects, and spot checks.
FULL_LABEL_LINES = {s: (4844 if s == "SN010" else 4845) for s in DISFA_SUBJECTS}
PUBLISHED_POSITIVES = {"au1": 6506, "au2": 5644, "au4": 19933, "au6": 10327, "au9": 5473,
                       "au12": 16851, "au25": 36247, "au26": 11533}
PUBLISHED_FRAMES = 130814
PUBLISHED_SPOT_CHECKS = {"SN001": {"au1": 0, "au12": 408, "au25": 249, "au26": 186},
                         "SN029": {"au2": 1949}}


def error_log_mask(subject: str, n_frames: int) -> np.ndarray:
    """Boolean (n_frames,) mask of the 0-based frames the Error_LOG marks bad."""
    mask = np.zeros(n_frames, dtype=bool)
    for first, last in ERROR_LOG_RANGES.get(subject, ()):
        mask[first - 1:last] = True  # 1-based inclusive -> 0-based half-open
    return mask


@PROTOCOLS.register_module(name="disfa")
class DisfaDataset(AUDataset):
    """DISFA's 3-fold protocol; left-camera caches flag the Error_LOG frames."""

    name = "disfa"
    aus = (1, 2, 4, 6, 9, 12, 25, 26)
    coded_aus = DISFA_LABELLED_AUS
    threshold = 2
    max_value = 5
    value_name = "intensity"
    parts = {
        "part1": ("SN001", "SN002", "SN009", "SN010", "SN016", "SN026", "SN027", "SN030", "SN032"),
        "part2": ("SN006", "SN011", "SN012", "SN013", "SN018", "SN021", "SN024", "SN028", "SN031"),
        "part3": ("SN003", "SN004", "SN005", "SN007", "SN008", "SN017", "SN023", "SN025", "SN029"),
    }
    fold_parts = {
        1: (("part1", "part2"), ("part3",)),
        2: (("part1", "part3"), ("part2",)),
        3: (("part2", "part3"), ("part1",)),
    }
    bad_frame_policies = BAD_FRAME_POLICIES
    reference = "3-fold subject-exclusive protocol of JAA-Net / ARL / ME-GraphAU"
    intensity_aus = DISFA_LABELLED_AUS
    prepare_with = ".prepare:prepare_disfa"
    synth_with = ".synth:synth_disfa"
    intensity_reference = ("the 12 labelled AUs, 0-5, every frame coded; auzoo's 3 occurrence "
                           "folds (intensity papers share no DISFA split: the subjects of each "
                           "fold are recorded with every result)")

    def label_checks(self, records: Dict[str, dict], synthetic: bool) -> List[str]:
        """Frames >= 2 over all label lines against DISFA's published counts."""
        lines = []
        why = " (expected: this is a synthetic DISFA written by auzoo synth)" if synthetic else ""
        if set(records) == set(DISFA_SUBJECTS):
            totals = {au: sum(r["positives_all_lines"][au] for r in records.values())
                      for au in PUBLISHED_POSITIVES}
            diff = {au: (totals[au], ref) for au, ref in PUBLISHED_POSITIVES.items()
                    if totals[au] != ref}
            if diff:
                lines.append(f"label totals (frames >= 2) DIFFER from DISFA's published counts{why}: "
                             + ", ".join(f"{au} {got:,} vs {ref:,}" for au, (got, ref) in diff.items()))
            else:
                lines.append("label totals (frames >= 2) match DISFA's published counts for all 8 AUs")
        else:
            lines.append(f"label totals not compared: {len(records)} of DISFA's 27 subjects present")
        full = {s: r for s, r in records.items() if r["label_lines"] == FULL_LABEL_LINES.get(s)}
        for subject, ref in PUBLISHED_SPOT_CHECKS.items():
            if subject not in full:
                continue
            got = full[subject]["positives_all_lines"]
            bad = {au: (got[au], v) for au, v in ref.items() if got[au] != v}
            if bad:
                lines.append(f"{subject} spot check DIFFERS{why}: "
                             + ", ".join(f"{au} {g:,} vs {v:,}" for au, (g, v) in bad.items()))
            else:
                lines.append(f"{subject} spot check matches "
                             f"({', '.join(f'{a}={v}' for a, v in ref.items())})")
        return lines


DISFA = DisfaDataset()
