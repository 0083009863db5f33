"""Reading a prepared cache: ``open_cache(CACHE)``.

The layout is in :mod:`auzoo.data.cache_format`; the cache's ``meta.json``
names the registered dataset it holds (:mod:`auzoo.data.datasets`), which
gives its AUs, folds, label rule and bad-frame policies.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pandas as pd

from auzoo.data.cache_format import (CACHE_FORMAT, CACHE_VERSION, DONE, FRAME_BOX_FILE,
                                     FRAMES_FILE, INDEX, LANDMARKS_FILE, MATRICES_FILE, META,
                                     SOURCE_LANDMARKS_FILE, SUBJECTS_DIR, is_intensity_column,
                                     is_label_column)
from auzoo.data.datasets import AUDataset, dataset_from_meta


def _read_index(path: Path) -> pd.DataFrame:
    header = pd.read_csv(path, nrows=0).columns
    dtypes = {c: np.uint8 for c in header if is_label_column(c) or is_intensity_column(c)}
    dtypes.update({c: str for c in ("subject", "sequence", "path") if c in header})
    dtypes.update({c: bool for c in ("error_log", "landmarks_missing", "aligned", "bad_landmarks")
                   if c in header})
    if "frame" in header:
        dtypes["frame"] = np.int32
    return pd.read_csv(path, dtype=dtypes, keep_default_na=False)


def rebuild_command(root: Path, meta: dict) -> str:
    """The ``auzoo prepare`` command that writes this cache anew (in a new folder)."""
    dataset = meta.get("dataset") or ("disfa" if meta.get("format") == "auzoo-disfa-cache" else None)
    new = f"{root}-v{CACHE_VERSION}"
    if dataset == "frames" and meta.get("labels_csv"):
        folds = (meta.get("protocol") or {}).get("test_folds")
        extra = f" --folds {len(folds)}" if folds else ""
        return f"auzoo prepare frames {meta['labels_csv']} --out {new}{extra}"
    if dataset and meta.get("source_root"):
        return f"auzoo prepare {dataset} {meta['source_root']} --out {new}"
    return f"auzoo prepare disfa|bp4d ROOT --out {new}"


def outdated_message(root: Path, meta: dict) -> str:
    fmt, version = meta.get("format"), meta.get("version")
    if fmt not in (CACHE_FORMAT, "auzoo-disfa-cache"):
        return f"{root / META}: not an auzoo cache (format {fmt!r})"
    why = ("it holds faces aligned TRA-Net's way; since v3 a cache keeps loose crops that "
           "every model's recipe aligns its own way" if (version or 0) < CACHE_VERSION
           else "it was written by a newer auzoo")
    return (f"{root} is an {fmt} v{version} cache, this auzoo reads v{CACHE_VERSION} ({why}). "
            f"Rebuild it with: {rebuild_command(root, meta)}")


class Cache:
    """A finished cache. Frames are memory-mapped on first use, per process."""

    def __init__(self, root):
        self.root = Path(root)
        meta_path = self.root / META
        if not meta_path.is_file():
            hint = (" (an interrupted prepare: rerun it to finish)"
                    if (self.root / SUBJECTS_DIR).is_dir() else "")
            raise FileNotFoundError(
                f"{self.root} is not a finished auzoo cache: no {META}{hint}. "
                f"Write one with: auzoo prepare disfa|bp4d ROOT --out {self.root} "
                f"(or auzoo prepare frames LABELS.csv --out {self.root})")
        self.meta: dict = json.loads(meta_path.read_text())
        fmt = (self.meta.get("format"), self.meta.get("version"))
        if fmt != (CACHE_FORMAT, CACHE_VERSION):
            raise ValueError(outdated_message(self.root, self.meta))
        self.dataset: AUDataset = dataset_from_meta(self.meta)
        self.size: int = int(self.meta["size"])
        self.checksum: str = self.meta["checksum"]
        self.subjects: List[str] = list(self.meta["subjects"])
        for s in self.subjects:
            if not (self.root / SUBJECTS_DIR / s / DONE).is_file():
                raise FileNotFoundError(f"{self.root / SUBJECTS_DIR / s}: subject listed in "
                                        f"{META} but not prepared (no {DONE})")
        self.index: pd.DataFrame = _read_index(self.root / INDEX)
        counts = self.index.groupby("subject", sort=False).size().to_dict()
        expected = {s: r["frames"] for s, r in self.meta["subjects"].items() if r["frames"]}
        if counts != expected:
            raise ValueError(f"{self.root / INDEX} does not match {META} "
                             "(rerun auzoo prepare on this cache)")
        # Row k of a subject's arrays is the subject's k-th index row.
        self.rows = self.index.groupby("subject", sort=False).cumcount().to_numpy(np.int64)
        self._frames: Dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        return (f"Cache({str(self.root)!r}, dataset={self.dataset.name}, "
                f"subjects={len(self.subjects)}, frames={len(self.index)}, size={self.size}, "
                f"checksum={self.checksum})")

    # ------------------------------------------------------------ protocol

    @property
    def folds(self) -> Dict[int, Tuple[Tuple[str, ...], Tuple[str, ...]]]:
        """``{k: (train_subjects, test_subjects)}`` of the subjects this cache holds
        (a fold of which a partial copy holds no training or no test subject is left out)."""
        have = set(self.subjects)
        out = {}
        for k in sorted(self.dataset.fold_parts):
            train, test = self.dataset.fold_subjects(k)
            train, test = tuple(s for s in train if s in have), tuple(s for s in test if s in have)
            if train and test:
                out[k] = (train, test)
        return out

    def fold_subjects(self, fold: int) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """The protocol's fold, cut to the subjects this cache holds (a partial copy)."""
        self.dataset.fold_subjects(fold)   # an unknown fold: the dataset names its folds
        folds = self.folds
        if fold not in folds:
            raise ValueError(f"fold {fold} of {self.dataset.name} has no training or no test subject "
                             f"in {self.root} (a partial copy; usable folds: "
                             f"{', '.join(map(str, folds)) or 'none'})")
        return folds[fold]

    @property
    def missing_subjects(self) -> Tuple[str, ...]:
        """The protocol's subjects this cache does not hold."""
        return tuple(s for s in self.dataset.subjects if s not in set(self.subjects))

    def describe(self, fold: Optional[int] = None, bad_frames: Optional[str] = None,
                 threshold: Optional[int] = None) -> dict:
        """The dataset's protocol as scored, plus what identifies this copy of it."""
        out = self.dataset.describe(fold, bad_frames, threshold)
        if self.missing_subjects:  # a partial copy: the folds as they were really run
            out["missing_subjects"] = list(self.missing_subjects)
            for k, f in out["folds"].items():
                f["train"] = [s for s in f["train"] if s in self.subjects]
                f["test"] = [s for s in f["test"] if s in self.subjects]
        out["checksum"] = self.checksum
        out["frames"] = int(len(self.index))
        out["synthetic"] = bool(self.meta.get("synthetic", False))
        return out

    # ------------------------------------------------------------ arrays

    def _path(self, subject: str, name: str) -> Path:
        if subject not in self.meta["subjects"]:
            raise KeyError(f"{subject} is not in cache {self.root} "
                           f"(it has {', '.join(self.subjects)})")
        return self.root / SUBJECTS_DIR / subject / name

    def frames(self, subject: str) -> np.ndarray:
        """(n, S, S, 3) uint8 RGB loose face crops of ``subject``, memory-mapped, read-only."""
        mm = self._frames.get(subject)
        if mm is None:
            path = self._path(subject, FRAMES_FILE)
            mm = np.load(path, mmap_mode="r")
            n = self.meta["subjects"][subject]["frames"]
            if mm.shape != (n, self.size, self.size, 3) or mm.dtype != np.uint8:
                raise ValueError(f"{path}: shape {mm.shape} {mm.dtype}, expected "
                                 f"({n}, {self.size}, {self.size}, 3) uint8")
            self._frames[subject] = mm
        return mm

    def landmarks(self, subject: str) -> np.ndarray:
        """(n, 66, 2) float32 landmarks in the loose crop (pixels); NaN where missing."""
        return np.load(self._path(subject, LANDMARKS_FILE))

    def frame_boxes(self, subject: str) -> np.ndarray:
        """(n, 4) float32 (x0, y0, x1, y1): the source frame's edges in the loose crop."""
        return np.load(self._path(subject, FRAME_BOX_FILE))

    def source_landmarks(self, subject: str) -> np.ndarray:
        """(n, 66, 2) float32 landmarks as read or found (0-based source pixels)."""
        return np.load(self._path(subject, SOURCE_LANDMARKS_FILE))

    def matrices(self, subject: str) -> np.ndarray:
        """(n, 2, 3) matrices source -> loose crop; NaN where no face was cropped."""
        return np.load(self._path(subject, MATRICES_FILE))

    # Memory maps are per process: a pickled cache (DataLoader workers) reopens them.
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_frames"] = {}
        return state


def open_cache(root) -> Cache:
    """Open a cache written by ``auzoo prepare``; clear error if it is not finished."""
    return root if isinstance(root, Cache) else Cache(root)
