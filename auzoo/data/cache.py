"""Reading a prepared cache: ``open_cache(CACHE)``.

The layout (written by :mod:`auzoo.data.prepare`, described in docs/data.md)::

    CACHE/meta.json                      written last: its presence marks a finished cache
    CACHE/index.csv                      one row per frame, every subject
    CACHE/subjects/SN001/frames.npy      (n, S, S, 3) uint8 RGB aligned faces
    CACHE/subjects/SN001/landmarks.npy   (n, 66, 2) float32 aligned landmarks, NaN if missing
    CACHE/subjects/SN001/landmarks_source.npy, matrices.npy, index.csv, done.json
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

import numpy as np
import pandas as pd

from auzoo.data.prepare import (CACHE_FORMAT, CACHE_VERSION, DONE, FLAG_COLUMNS, INDEX,
                                LABEL_COLUMNS, META, SUBJECTS_DIR)


class DisfaCache:
    """A finished DISFA cache. Frames are memory-mapped on first use, per process."""

    def __init__(self, root):
        self.root = Path(root)
        meta_path = self.root / META
        if not meta_path.is_file():
            hint = (" (an interrupted prepare: rerun it to finish)"
                    if (self.root / SUBJECTS_DIR).is_dir() else "")
            raise FileNotFoundError(
                f"{self.root} is not a finished auzoo cache: no {META}{hint}. "
                f"Write one with: auzoo prepare disfa DISFA_ROOT --out {self.root}")
        self.meta: dict = json.loads(meta_path.read_text())
        if self.meta.get("format") != CACHE_FORMAT or self.meta.get("version") != CACHE_VERSION:
            raise ValueError(f"{meta_path}: not an {CACHE_FORMAT} v{CACHE_VERSION} cache "
                             f"(format {self.meta.get('format')!r} v{self.meta.get('version')!r})")
        self.size: int = int(self.meta["size"])
        self.checksum: str = self.meta["checksum"]
        self.subjects: List[str] = list(self.meta["subjects"])
        for s in self.subjects:
            if not (self.root / SUBJECTS_DIR / s / DONE).is_file():
                raise FileNotFoundError(f"{self.root / SUBJECTS_DIR / s}: subject listed in "
                                        f"{META} but not prepared (no {DONE})")
        dtypes = {"subject": str, "frame": np.int32, **{c: np.uint8 for c in LABEL_COLUMNS},
                  **{c: bool for c in FLAG_COLUMNS}}
        self.index: pd.DataFrame = pd.read_csv(self.root / INDEX, dtype=dtypes)
        counts = self.index.groupby("subject", sort=False).size().to_dict()
        expected = {s: r["frames"] for s, r in self.meta["subjects"].items()}
        if counts != expected:
            raise ValueError(f"{self.root / INDEX} does not match {META} "
                             "(rerun auzoo prepare on this cache)")
        self._frames: Dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        return (f"DisfaCache({str(self.root)!r}, subjects={len(self.subjects)}, "
                f"frames={len(self.index)}, size={self.size}, checksum={self.checksum})")

    def _path(self, subject: str, name: str) -> Path:
        if subject not in self.meta["subjects"]:
            raise KeyError(f"{subject} is not in cache {self.root} "
                           f"(it has {', '.join(self.subjects)})")
        return self.root / SUBJECTS_DIR / subject / name

    def frames(self, subject: str) -> np.ndarray:
        """(n, S, S, 3) uint8 RGB aligned faces of ``subject``, memory-mapped, read-only."""
        mm = self._frames.get(subject)
        if mm is None:
            path = self._path(subject, "frames.npy")
            mm = np.load(path, mmap_mode="r")
            n = self.meta["subjects"][subject]["frames"]
            if mm.shape != (n, self.size, self.size, 3) or mm.dtype != np.uint8:
                raise ValueError(f"{path}: shape {mm.shape} {mm.dtype}, expected "
                                 f"({n}, {self.size}, {self.size}, 3) uint8")
            self._frames[subject] = mm
        return mm

    def landmarks(self, subject: str) -> np.ndarray:
        """(n, 66, 2) float32 landmarks in the aligned image (pixels); NaN where missing."""
        return np.load(self._path(subject, "landmarks.npy"))

    def source_landmarks(self, subject: str) -> np.ndarray:
        """(n, 66, 2) float32 landmarks as read from DISFA (0-based video pixels)."""
        return np.load(self._path(subject, "landmarks_source.npy"))

    def matrices(self, subject: str) -> np.ndarray:
        """(n, 2, 3) alignment matrices video -> aligned face; NaN where not aligned."""
        return np.load(self._path(subject, "matrices.npy"))

    # Memory maps are per process: a pickled cache (DataLoader workers) reopens them.
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_frames"] = {}
        return state


def open_cache(root) -> DisfaCache:
    """Open a cache written by ``auzoo prepare disfa``; clear error if it is not finished."""
    return DisfaCache(root)
