"""Reading a lab's own labels: one CSV row per labelled frame.

Columns (names matched case-insensitively; others are left out and reported):

    subject    who is filmed (a subject-exclusive fold keeps all their frames together)
    path       an image, or a video; relative to the CSV's folder, or absolute
    frame      for a video: the 0-based frame number (required); ignored for an image
    sequence   optional: a recording / task name kept in the index
    fold       optional: the fold (1, 2, ...) whose test set holds this subject
    AU1, AU01, au1, AU_1, AU 1, AU1_c, AU01_r ...
               one per AU: 0/1, or an intensity (0-254); empty, 9 or -1 = not
               coded. ``_c`` (occurrence) and ``_r`` (intensity) are
               OpenFace's suffixes. Any other column that starts like an AU
               (``AUl2``, ``AU25_prob``, ``AU``) is an error naming it.

A row that cannot be read is a :class:`LabelsCsvError` naming the CSV line.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from auzoo.data.cache_format import NOT_CODED

VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
NOT_CODED_CELLS = ("", "9", "-1", "9.0", "-1.0")
_AU_RE = re.compile(r"^au[ _-]?0*(\d+)(?:[ _-]?[cr])?$", re.IGNORECASE)
# Starts like an AU column: "AU" then a digit, a separator, a digit-like
# letter (l, I, O for 1 and 0) or nothing ("audio", "author" do not).
_AU_LIKE_RE = re.compile(r"^au(?:$|[\d\W_]|[lio][\W_\d]*\d)", re.IGNORECASE)
AU_SPELLINGS = "AU25, AU_25, au25, AU25_c or AU25_r"
_SUBJECT_RE = re.compile(r"^[^/\\.][^/\\]*$")


class LabelsCsvError(ValueError):
    """A labels CSV that cannot be read; names the file and line."""


@dataclass(frozen=True)
class LabelRow:
    line: int                 # line in the CSV file (the header is line 1)
    subject: str
    path: str                 # as written in the CSV
    file: Path                # resolved
    frame: Optional[int]      # video frame; None for an image
    sequence: str
    fold: Optional[int]
    labels: Tuple[int, ...]   # one per AU, NOT_CODED where not coded


def _au_columns(header: List[str], where: str) -> Dict[int, int]:
    aus: Dict[int, int] = {}
    for i, name in enumerate(header):
        m = _AU_RE.match(name.strip())
        if not m and _AU_LIKE_RE.match(name.strip()):
            raise LabelsCsvError(f"{where}, line 1: column {name!r} looks like an AU but is "
                                 f"not one auzoo can read; write it {AU_SPELLINGS} (an AU "
                                 "number), or rename it if it is not an AU")
        if m:
            au = int(m.group(1))
            if au in aus:
                raise LabelsCsvError(f"{where}, line 1: two columns for AU{au}: "
                                     f"{header[aus[au]]!r} and {name!r}")
            aus[au] = i
    if not aus:
        raise LabelsCsvError(f"{where}, line 1: no AU column ({AU_SPELLINGS} ...) in {header}")
    return dict(sorted(aus.items()))


def _value(cell: str, au: int, where: str, line: int) -> int:
    cell = cell.strip()
    if cell in NOT_CODED_CELLS:
        return NOT_CODED
    try:
        v = float(cell)
    except ValueError:
        v = float("nan")
    if not (v.is_integer() and 0 <= v <= 254):
        raise LabelsCsvError(f"{where}, line {line}: AU{au} is {cell!r}; expected an integer "
                             "0-254, or empty / 9 / -1 for not coded")
    return int(v)


class LabelsCsv:
    """The rows of a labels CSV: ``rows``, ``aus``, ``ignored`` columns."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"labels CSV {self.path} not found")
        where = str(self.path)
        with open(self.path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise LabelsCsvError(f"{where}: empty file")
            cols = {h.strip().lower(): i for i, h in enumerate(header)}
            for need in ("subject", "path"):
                if need not in cols:
                    raise LabelsCsvError(f"{where}, line 1: no {need!r} column in {header}")
            au_cols = _au_columns(header, where)
            self.aus: Tuple[int, ...] = tuple(au_cols)
            known = {"subject", "path", "frame", "sequence", "fold"}
            self.ignored = [h for i, h in enumerate(header)
                            if h.strip().lower() not in known and i not in au_cols.values()]
            self.rows: List[LabelRow] = []
            seen: Dict[Tuple[str, Optional[int]], int] = {}
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue
                row = self._row(cells, len(header), cols, au_cols, reader.line_num)
                key = (str(row.file), row.frame)
                if key in seen:
                    raise LabelsCsvError(f"{where}, line {row.line}: the same frame as line "
                                         f"{seen[key]} ({row.path}, frame {row.frame})")
                seen[key] = row.line
                self.rows.append(row)
        if not self.rows:
            raise LabelsCsvError(f"{where}: no labelled rows")
        self._check_folds()

    def _row(self, cells, width, cols, au_cols, line) -> LabelRow:
        where = str(self.path)
        if len(cells) != width:
            raise LabelsCsvError(f"{where}, line {line}: {len(cells)} cells for {width} columns")

        def cell(name):
            return cells[cols[name]].strip() if name in cols else ""

        subject, path = cell("subject"), cell("path")
        if not _SUBJECT_RE.match(subject):
            raise LabelsCsvError(f"{where}, line {line}: subject {subject!r} is empty or not usable "
                                 "as a folder name")
        if not path:
            raise LabelsCsvError(f"{where}, line {line}: empty path")
        file = Path(path) if Path(path).is_absolute() else self.path.parent / path
        frame = None
        if file.suffix.lower() in VIDEO_SUFFIXES:
            try:
                frame = int(cell("frame"))
            except ValueError:
                frame = -1
            if frame < 0:
                raise LabelsCsvError(f"{where}, line {line}: {path} is a video; its 'frame' "
                                     f"must be a 0-based frame number, not {cell('frame')!r}")
        fold = None
        if "fold" in cols:
            try:
                fold = int(cell("fold"))
            except ValueError:
                fold = 0
            if fold < 1:
                raise LabelsCsvError(f"{where}, line {line}: fold {cell('fold')!r} is not 1, 2, ...")
        labels = tuple(_value(cells[i], au, where, line) for au, i in au_cols.items())
        return LabelRow(line, subject, path, file, frame, cell("sequence"), fold, labels)

    def _check_folds(self) -> None:
        if self.rows[0].fold is None:
            return
        first: Dict[str, LabelRow] = {}
        for r in self.rows:
            f = first.setdefault(r.subject, r)
            if f.fold != r.fold:
                raise LabelsCsvError(f"{self.path}, line {r.line}: {r.subject} in fold {r.fold}, but "
                                     f"in fold {f.fold} on line {f.line} (folds are by subject)")

    @property
    def subjects(self) -> List[str]:
        return sorted({r.subject for r in self.rows})

    def frames_per_subject(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for r in self.rows:
            counts[r.subject] = counts.get(r.subject, 0) + 1
        return counts

    def label_array(self) -> np.ndarray:
        return np.array([r.labels for r in self.rows], dtype=np.uint8).reshape(-1, len(self.aus))
