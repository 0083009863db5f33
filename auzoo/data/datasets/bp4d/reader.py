"""Reading a BP4D copy as users have it on disk, in either layout.

Full release and FERA 2015 copy (matched loosely; the user never says which)::

    ROOT/<image folder>/F001/T1/0001.jpg ...   "Sequences(2D+3D)", "BP4D-training", any
                                               folder holding F001/T1/..., or ROOT itself
    ROOT/AUCoding/AU_OCC/F001_T1.csv            full release
    ROOT/AUCoding/F001_T1.csv                   FERA 2015 (no AU_OCC level)

* CSV frame f is the image whose file name is the integer f, whatever its
  zero padding (``0001.jpg``, ``1.jpg``).
* AU columns are found by their header name (``0`` = frame, ``k`` = AU k),
  never by position; columns past AU 39 (9s only, or FERA's occlusion flag)
  are left out. Values are 1 present, 0 absent, 9 not coded.
* ``--landmarks DIR``: JAA-Net's 49-point lists, ``NAME_path.txt`` (lines
  ``F001/T1/2440.jpg``) beside ``NAME_land.txt`` (``x1 y1 ... x49 y49``,
  1-based pixels of the 1040 x 1392 frame; a line of zeros = none).

Bad input raises :class:`Bp4dFormatError` (a ValueError) naming the file and line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from auzoo.data.cache_format import NOT_CODED
from auzoo.data.datasets.bp4d.protocol import CSV_NOT_CODED, MAX_CODED_AU

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
_SUBJECT_RE = re.compile(r"^[FM]\d{3}$", re.IGNORECASE)
_TASK_RE = re.compile(r"^T\d$", re.IGNORECASE)
_CSV_RE = re.compile(r"^([FM]\d{3})_(T\d)\.csv$", re.IGNORECASE)
_LIST_PATH_RE = re.compile(r"([FM]\d{3})[/\\](T\d)[/\\](\d+)\.\w+\s*$", re.IGNORECASE)


class Bp4dFormatError(ValueError):
    """A BP4D file without the expected content; names file (and line)."""


def _dirs(folder: Path) -> List[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_occurrence_csv(path: Path) -> Tuple[np.ndarray, np.ndarray, Tuple[int, ...], List[str]]:
    """``(frames, labels, aus, ignored)`` of one ``<S>_<T>.csv``.

    ``labels`` is uint8 (n, len(aus)) with 0/1 and NOT_CODED for 9;
    ``ignored`` names the header columns left out.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    if not lines:
        raise Bp4dFormatError(f"{path}: empty file")
    header = [h.strip() for h in lines[0].split(",")]
    names = []
    for h in header:
        try:
            names.append(int(float(h)))
        except ValueError:
            names.append(None)
    if 0 not in names:
        raise Bp4dFormatError(f"{path}, line 1: no frame column named '0' in the header {header}")
    au_cols = [(i, a) for i, a in enumerate(names) if a is not None and 1 <= a <= MAX_CODED_AU]
    ignored = [h for h, a in zip(header, names) if a is None or a > MAX_CODED_AU]
    frame_col = names.index(0)
    rows = [(k + 1, line) for k, line in enumerate(lines[1:], start=1) if line.strip()]
    frames = np.empty(len(rows), dtype=np.int64)
    labels = np.empty((len(rows), len(au_cols)), dtype=np.uint8)
    for r, (line_no, line) in enumerate(rows):
        cells = line.split(",")
        try:
            if len(cells) != len(header):
                raise ValueError(f"{len(cells)} cells for {len(header)} columns")
            frames[r] = int(float(cells[frame_col]))
            values = [int(float(cells[i])) for i, _ in au_cols]
        except ValueError as exc:
            raise Bp4dFormatError(f"{path}, line {line_no}: cannot read {line.strip()!r} ({exc})") from None
        for (i, a), v in zip(au_cols, values):
            if v not in (0, 1, CSV_NOT_CODED):
                raise Bp4dFormatError(f"{path}, line {line_no}: AU{a} is {v}; expected 0, 1 or 9")
        labels[r] = [NOT_CODED if v == CSV_NOT_CODED else v for v in values]
    return frames, labels, tuple(a for _, a in au_cols), ignored


def image_files(folder: Optional[Path]) -> Dict[int, Path]:
    """Images of a sequence folder by the integer of their name (any zero padding)."""
    found: Dict[int, Path] = {}
    if folder is None:
        return found
    for p in folder.iterdir():
        if p.suffix.lower() in IMAGE_SUFFIXES and p.stem.isdigit() and not p.name.startswith("."):
            k = int(p.stem)
            if k in found:
                raise Bp4dFormatError(f"{folder}: two images for frame {k}: {found[k].name}, {p.name}")
            found[k] = p
    return found


@dataclass(frozen=True)
class Bp4dSequence:
    subject: str
    task: str
    csv: Path
    images: Optional[Path]  # the T folder, None when the copy has no images for it


class Bp4dRoot:
    """A BP4D copy: ``sequences[(subject, task)]``, and which layout it has."""

    def __init__(self, root):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"BP4D root {self.root} is not a folder")
        self.csv_dir, self.layout = self._find_labels()
        self.image_dir = self._find_images()
        seqs: Dict[Tuple[str, str], Bp4dSequence] = {}
        for p in sorted(self.csv_dir.iterdir()):
            m = _CSV_RE.match(p.name)
            if m and not p.name.startswith("."):
                s, t = m.group(1).upper(), m.group(2).upper()
                folder = self._sequence_folder(s, t)
                seqs[(s, t)] = Bp4dSequence(s, t, p, folder)
        if not seqs:
            raise FileNotFoundError(f"no <Subject>_<Task>.csv label files in {self.csv_dir}")
        self.sequences = seqs
        self.subjects: List[str] = sorted({s for s, _ in seqs})

    def _find_labels(self) -> Tuple[Path, str]:
        coding = [p for p in _dirs(self.root) if p.name.lower() == "aucoding"]
        if len(coding) != 1:
            raise FileNotFoundError(f"no AUCoding folder in {self.root} (BP4D's labels live in "
                                    "AUCoding/AU_OCC/ or, in the FERA 2015 copy, AUCoding/)")
        occ = [p for p in _dirs(coding[0]) if p.name.lower() == "au_occ"]
        if occ:
            return occ[0], "full release (AUCoding/AU_OCC)"
        return coding[0], "FERA 2015 (AUCoding/)"

    def _find_images(self) -> Path:
        def holds_subjects(folder: Path) -> bool:
            return any(_SUBJECT_RE.match(d.name) and any(_TASK_RE.match(t.name) for t in _dirs(d))
                       for d in _dirs(folder))

        hits = [d for d in _dirs(self.root) if d.name.lower() != "aucoding" and holds_subjects(d)]
        if holds_subjects(self.root):
            hits.append(self.root)
        if not hits:
            raise FileNotFoundError(f"no image folder with <Subject>/<Task>/ sub-folders in {self.root}")
        if len(hits) > 1:
            raise Bp4dFormatError(f"{self.root}: several image folders: "
                                  f"{', '.join(str(h.relative_to(self.root)) or '.' for h in hits)}")
        return hits[0]

    def _sequence_folder(self, subject: str, task: str) -> Optional[Path]:
        s = [d for d in _dirs(self.image_dir) if d.name.upper() == subject]
        t = [d for d in _dirs(s[0]) if d.name.upper() == task] if s else []
        return t[0] if t else None

    def subject_sequences(self, subject: str) -> List[Bp4dSequence]:
        return [q for (s, _), q in sorted(self.sequences.items()) if s == subject]


def read_landmark_lists(folder) -> Dict[Tuple[str, str, int], np.ndarray]:
    """JAA-Net 49-point lists in ``folder``: (subject, task, frame) -> (49, 2) 0-based pixels.

    Every ``NAME_path.txt`` needs its ``NAME_land.txt``; a line of zeros (or
    an empty one) is a frame without landmarks and is left out.
    """
    folder = Path(folder)
    paths = sorted(folder.glob("*_path.txt"))
    if not paths:
        raise FileNotFoundError(f"no *_path.txt landmark list in {folder}")
    out: Dict[Tuple[str, str, int], np.ndarray] = {}
    for path_file in paths:
        land_file = path_file.with_name(path_file.name[:-len("_path.txt")] + "_land.txt")
        if not land_file.is_file():
            raise FileNotFoundError(f"{path_file} has no {land_file.name} beside it")
        names = path_file.read_text().splitlines()
        points = land_file.read_text().splitlines()
        if len(names) != len(points):
            raise Bp4dFormatError(f"{path_file} has {len(names)} lines but {land_file} {len(points)}")
        for k, (name, line) in enumerate(zip(names, points), start=1):
            m = _LIST_PATH_RE.search(name.strip())
            if not m:
                raise Bp4dFormatError(f"{path_file}, line {k}: not a <Subject>/<Task>/<frame>.jpg "
                                      f"path: {name.strip()!r}")
            try:
                values = np.array(line.split(), dtype=np.float32)
            except ValueError:
                raise Bp4dFormatError(f"{land_file}, line {k}: not numbers") from None
            if values.size == 0 or not values.any():
                continue
            if values.size != 98:
                raise Bp4dFormatError(f"{land_file}, line {k}: {values.size} numbers, expected 98")
            key = (m.group(1).upper(), m.group(2).upper(), int(m.group(3)))
            out[key] = values.reshape(49, 2) - 1.0   # 1-based -> 0-based pixels
    return out
