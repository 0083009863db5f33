"""BP4D's intensity codes, in either layout (matched loosely)::

    ROOT/AUCoding/AU_INT/AU06/F001_T1_AU06.csv        full release
    ROOT/AU Intensity Codes3.0/AU06/F001_T1....csv    FERA 2015 copy

One folder per AU (``AU06``, ``AU10``, ``AU12``, ``AU14``, ``AU17``: FERA
2015's intensity AUs), one CSV per sequence whose name starts with
``<Subject>_<Task>``. The files have no header (FERA's code reads them with
``csvread``); each row is ``frame,intensity`` with intensity 0-5, and 9 =
not coded (masked per AU, as FERA's evaluation does). A first line that is
not numbers is taken for a header and skipped. The folder holding the AU
folders is, in this order: ``AUCoding/AU_INT``, or a folder of ROOT whose
name says "intensity" (spaces and case as they come), or one level below
either (a copy that keeps a ``Project/`` folder between).

Bad input raises :class:`~auzoo.data.datasets.bp4d.reader.Bp4dFormatError` naming file and line.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from auzoo.data.cache_format import NOT_CODED
from auzoo.data.datasets.bp4d.protocol import CSV_NOT_CODED
from auzoo.data.datasets.bp4d.reader import Bp4dFormatError, _dirs

_AU_DIR_RE = re.compile(r"^AU0*(\d+)$", re.IGNORECASE)
_SEQUENCE_RE = re.compile(r"^([FM]\d{3})_(T\d)", re.IGNORECASE)
MAX_INTENSITY = 5


def _au_dirs(folder: Path) -> Dict[int, Path]:
    found = {}
    for d in _dirs(folder):
        m = _AU_DIR_RE.match(d.name)
        if m:
            found[int(m.group(1))] = d
    return found


def find_intensity_dir(root) -> Optional[Path]:
    """The folder that holds a BP4D copy's ``AUxx`` intensity folders, or None."""
    root = Path(root)
    candidates: List[Path] = []
    for coding in (d for d in _dirs(root) if d.name.lower() == "aucoding"):
        candidates += [d for d in _dirs(coding) if d.name.lower() == "au_int"]
    candidates += [d for d in _dirs(root) if "intensity" in d.name.lower().replace(" ", "")]
    for folder in candidates:
        for place in [folder, *_dirs(folder)]:
            if _au_dirs(place):
                return place
    return None


def read_intensity_csv(path) -> Tuple[np.ndarray, np.ndarray]:
    """``(frames, values)`` of one intensity CSV; values uint8 0-5, NOT_CODED for 9."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    rows = [(k, line) for k, line in enumerate(lines, start=1) if line.strip()]
    if rows and not _numeric(rows[0][1]):
        rows = rows[1:]                                   # a header line
    frames = np.empty(len(rows), dtype=np.int64)
    values = np.empty(len(rows), dtype=np.uint8)
    for r, (line_no, line) in enumerate(rows):
        cells = [c.strip() for c in line.split(",")]
        try:
            if len(cells) < 2:
                raise ValueError(f"{len(cells)} cell(s), expected frame,intensity")
            frame, value = int(float(cells[0])), float(cells[1])
        except ValueError as exc:
            raise Bp4dFormatError(f"{path}, line {line_no}: cannot read {line.strip()!r} ({exc})") from None
        if not value.is_integer() or not (0 <= value <= MAX_INTENSITY or value == CSV_NOT_CODED):
            raise Bp4dFormatError(f"{path}, line {line_no}: intensity {cells[1]!r}; expected 0-5, "
                                  f"or {CSV_NOT_CODED} for not coded")
        frames[r] = frame
        values[r] = NOT_CODED if value == CSV_NOT_CODED else int(value)
    unique, counts = np.unique(frames, return_counts=True)
    if (counts > 1).any():
        raise Bp4dFormatError(f"{path}: frame(s) {unique[counts > 1][:5].tolist()} listed twice")
    return frames, values


def _numeric(line: str) -> bool:
    try:
        [float(c) for c in line.split(",")[:2]]
        return True
    except ValueError:
        return False


def intensity_files(root) -> Tuple[Optional[Path], Dict[Tuple[str, str], Dict[int, Path]]]:
    """``(folder, {(subject, task): {au: csv}})`` of a BP4D copy (folder None: none)."""
    folder = find_intensity_dir(root)
    files: Dict[Tuple[str, str], Dict[int, Path]] = {}
    if folder is None:
        return None, files
    for au, au_dir in sorted(_au_dirs(folder).items()):
        for p in sorted(au_dir.iterdir()):
            m = _SEQUENCE_RE.match(p.name)
            if not m or p.suffix.lower() != ".csv" or p.name.startswith("."):
                continue
            key = (m.group(1).upper(), m.group(2).upper())
            other = files.setdefault(key, {}).get(au)
            if other is not None:
                raise Bp4dFormatError(f"{au_dir}: two intensity files for {key[0]} {key[1]}: "
                                      f"{other.name}, {p.name}")
            files[key][au] = p
    return folder, files


def intensity_for_frames(frames: np.ndarray, files: Dict[int, Path], aus: Tuple[int, ...]
                         ) -> Tuple[np.ndarray, Dict[str, int]]:
    """(len(frames), len(aus)) uint8 intensities of a sequence's coded frames
    (NOT_CODED where a file is missing or has no row for the frame), and counts:
    ``rows`` read, ``not_coded`` 9s among the coded frames, ``unmatched`` rows
    for frames the occurrence CSV does not code (left out)."""
    out = np.full((len(frames), len(aus)), NOT_CODED, dtype=np.uint8)
    where = {int(f): j for j, f in enumerate(frames)}
    counts = dict(rows=0, not_coded=0, unmatched=0, missing_files=0)
    for c, au in enumerate(aus):
        if au not in files:
            counts["missing_files"] += 1
            continue
        got_frames, values = read_intensity_csv(files[au])
        counts["rows"] += len(got_frames)
        for f, v in zip(got_frames.tolist(), values.tolist()):
            j = where.get(f)
            if j is None:
                counts["unmatched"] += 1
            else:
                out[j, c] = v
        counts["not_coded"] += int((out[:, c] == NOT_CODED).sum())
    return out, counts


__all__ = ["find_intensity_dir", "intensity_files", "intensity_for_frames", "read_intensity_csv"]
