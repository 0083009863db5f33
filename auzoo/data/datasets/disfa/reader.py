"""Reading a DISFA root as users have it on disk.

Layout (names matched loosely, because copies differ)::

    ROOT/ActionUnit_Labels/SN001/SN001_au1.txt ... SN001_au26.txt
    ROOT/Videos_LeftCamera/LeftVideoSN001_comp.avi        (or Video_LeftCamera/...)
    ROOT/Video_RightCamera/RightVideoSN001_Comp.avi       (or Videos_RightCamera/...)
    ROOT/Landmark_Points[/Landmark_Points]/SN001/<one folder>/SN001_0000_lm.mat

* Label line k (0-based) of every AU file belongs to decoded video frame k; the
  frame number written in the line is checked for format, not used.
* A landmark file is matched to its frame by the number in its name, never by
  its position in a listing. Per subject the numbering starts at 0 or 1
  (``SN001_0000_lm.mat`` is frame 0; some subjects' ``l0NNNN_lm.mat`` start at
  1): the smallest number present decides.
* Single files (label lines, ``pts`` of a landmark file, videos): :mod:`.files`.

Bad input raises :class:`DisfaFormatError` (a ValueError) or FileNotFoundError,
naming the file and, for label files, the line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from auzoo.data.datasets.disfa.files import (N_LANDMARKS, DisfaFormatError, iter_video,
                                             read_label_file, read_landmark_file)
from auzoo.data.datasets.disfa.protocol import DISFA_LABELLED_AUS

__all__ = ["CAMERAS", "DisfaFormatError", "DisfaRoot", "DisfaSubject", "LandmarkFiles",
           "iter_video", "read_label_file", "read_landmark_file"]

CAMERAS = ("left", "right")

_SUBJECT_RE = re.compile(r"^sn\d{3}$", re.IGNORECASE)
_LABEL_RE = re.compile(r"^(sn\d{3})_au(\d+)\.txt$", re.IGNORECASE)
_LANDMARK_RE = re.compile(r"(\d+)_lm\.mat$", re.IGNORECASE)
_VIDEO_DIR_RE = {cam: re.compile(rf"^videos?_{cam}camera$", re.IGNORECASE) for cam in CAMERAS}


def _entries(folder: Path) -> Iterator[Path]:
    """The entries of ``folder``, without hidden ones (such as the ``._*`` files
    macOS leaves in archives, which would pass for landmark or video files)."""
    return (p for p in folder.iterdir() if not p.name.startswith("."))


def _child(parent: Path, pattern: re.Pattern) -> List[Path]:
    return sorted(p for p in _entries(parent) if pattern.match(p.name))


def _one_dir(parent: Path, name: str) -> Path:
    """The sub-folder of ``parent`` called ``name``, matched case-insensitively."""
    hits = [p for p in _entries(parent) if p.is_dir() and p.name.lower() == name.lower()]
    return _exactly_one(hits, f"no {name} folder in {parent}",
                        f"{parent}: several folders named like {name}")


def _exactly_one(hits: List[Path], none: str, several: str) -> Path:
    """The single path of ``hits``; an error saying ``none`` or ``several`` otherwise."""
    if not hits:
        raise FileNotFoundError(none)
    if len(hits) > 1:
        raise DisfaFormatError(f"{several}: {', '.join(p.name for p in hits)}")
    return hits[0]


# ------------------------------------------------------------------ one subject

@dataclass(frozen=True)
class LandmarkFiles:
    """A subject's landmark files keyed by 0-based frame."""

    folder: Optional[Path]
    files: Dict[int, Path]
    first_number: Optional[int]  # 0 or 1: what the file numbering starts at

    def read(self, n_frames: int) -> Tuple[np.ndarray, np.ndarray]:
        """``(points, missing)``: (n, 66, 2) float32 0-based (NaN where no file), (n,) bool."""
        points = np.full((n_frames, N_LANDMARKS, 2), np.nan, dtype=np.float32)
        missing = np.ones(n_frames, dtype=bool)
        for frame, path in self.files.items():
            if frame < n_frames:
                points[frame] = read_landmark_file(path)
                missing[frame] = False
        return points, missing


@dataclass(frozen=True)
class DisfaSubject:
    """Where one subject's files are."""

    subject: str
    camera: str
    video: Path
    label_files: Dict[int, Path]  # AU -> file
    landmark_folder: Optional[Path]

    def read_labels(self) -> Tuple[np.ndarray, Dict[int, int]]:
        """``(labels, lines)``: (n, 12) uint8 intensities in the order of
        DISFA_LABELLED_AUS and each AU file's line count.

        If the AU files disagree on their length the shortest decides; the
        caller reports ``lines``.
        """
        columns = {au: read_label_file(self.label_files[au]) for au in DISFA_LABELLED_AUS}
        lines = {au: len(c) for au, c in columns.items()}
        n = min(lines.values())
        return np.stack([c[:n] for c in columns.values()], axis=1), lines

    @cached_property
    def landmarks(self) -> LandmarkFiles:
        folder = self.landmark_folder
        if folder is None:
            return LandmarkFiles(None, {}, None)
        numbered: Dict[int, Path] = {}
        for p in _entries(folder):
            m = _LANDMARK_RE.search(p.name)
            if not m:
                continue
            k = int(m.group(1))
            if k in numbered:
                raise DisfaFormatError(f"{folder}: two landmark files for number {k}: "
                                       f"{numbered[k].name}, {p.name}")
            numbered[k] = p
        if not numbered:
            return LandmarkFiles(folder, {}, None)
        first = min(numbered)
        if first not in (0, 1):
            raise DisfaFormatError(f"{folder}: landmark numbering starts at {first}, "
                                   "expected 0 or 1")
        return LandmarkFiles(folder, {k - first: p for k, p in numbered.items()}, first)

    def read_landmarks(self, n_frames: int) -> Tuple[np.ndarray, np.ndarray]:
        return self.landmarks.read(n_frames)

    def frames(self, limit: Optional[int] = None, rgb: bool = True) -> Iterator[np.ndarray]:
        return iter_video(self.video, limit=limit, rgb=rgb)


# ------------------------------------------------------------------ the root

class DisfaRoot:
    """A DISFA copy on disk: ``root[subject]`` finds that subject's files.

    ``subjects`` are the folders of ``ActionUnit_Labels`` (sorted). Videos are
    those of ``camera``; landmarks are always the left camera's (DISFA has no
    others).
    """

    def __init__(self, root, camera: str = "left"):
        self.root = Path(root)
        if camera not in CAMERAS:
            raise ValueError(f"camera must be one of {CAMERAS}, not {camera!r}")
        self.camera = camera
        if not self.root.is_dir():
            raise FileNotFoundError(f"DISFA root {self.root} is not a folder")
        self.labels_dir = _one_dir(self.root, "ActionUnit_Labels")
        videos = [p for p in _child(self.root, _VIDEO_DIR_RE[camera]) if p.is_dir()]
        if not videos:
            raise FileNotFoundError(
                f"no Videos_{camera.capitalize()}Camera (or Video_{camera.capitalize()}Camera) "
                f"folder in {self.root}")
        if len(videos) > 1:
            raise DisfaFormatError(f"{self.root}: several {camera}-camera video folders: "
                                   f"{', '.join(p.name for p in videos)}")
        self.video_dir = videos[0]
        self.landmarks_dir = self._find_landmarks_dir()
        subjects = [p.name.upper() for p in _child(self.labels_dir, _SUBJECT_RE) if p.is_dir()]
        if not subjects:
            raise FileNotFoundError(f"no SNxxx subject folders in {self.labels_dir}")
        self.subjects: List[str] = sorted(subjects)

    def _find_landmarks_dir(self) -> Path:
        top = _one_dir(self.root, "Landmark_Points")
        # Some extracted copies have Landmark_Points/Landmark_Points/SNxxx.
        if not _child(top, _SUBJECT_RE):
            try:
                return _one_dir(top, "Landmark_Points")
            except FileNotFoundError:
                pass
        return top

    def __iter__(self) -> Iterator[DisfaSubject]:
        return (self[s] for s in self.subjects)

    def __len__(self) -> int:
        return len(self.subjects)

    def __getitem__(self, subject: str) -> DisfaSubject:
        subject = subject.upper()
        if subject not in self.subjects:
            raise KeyError(f"{subject} has no label folder in {self.labels_dir}")
        return DisfaSubject(subject=subject, camera=self.camera, video=self._video(subject),
                            label_files=self._label_files(subject),
                            landmark_folder=self._landmark_folder(subject))

    def _label_files(self, subject: str) -> Dict[int, Path]:
        folder = _one_dir(self.labels_dir, subject)
        files: Dict[int, Path] = {}
        for p in _entries(folder):
            m = _LABEL_RE.match(p.name)
            if m and m.group(1).upper() == subject:
                files[int(m.group(2))] = p
        absent = [au for au in DISFA_LABELLED_AUS if au not in files]
        if absent:
            raise FileNotFoundError(
                f"{folder}: missing label file(s) "
                + ", ".join(f"{subject}_au{au}.txt" for au in absent))
        return {au: files[au] for au in DISFA_LABELLED_AUS}

    def _video(self, subject: str) -> Path:
        hits = [p for p in _entries(self.video_dir)
                if p.suffix.lower() == ".avi" and subject.lower() in p.name.lower()]
        if len(hits) > 1:  # prefer the file named after the camera
            named = [p for p in hits if p.name.lower().startswith(self.camera)]
            hits = named if named else hits
        return _exactly_one(hits, f"no video of {subject} in {self.video_dir}",
                            f"{self.video_dir}: several videos of {subject}")

    def _landmark_folder(self, subject: str) -> Path:
        folder = _one_dir(self.landmarks_dir, subject)
        if any(_LANDMARK_RE.search(p.name) for p in _entries(folder) if p.is_file()):
            return folder
        subdirs = [p for p in _entries(folder) if p.is_dir()]
        if len(subdirs) > 1:  # take the one that holds landmark files
            subdirs = [d for d in subdirs if any(_LANDMARK_RE.search(p.name) for p in _entries(d))]
        if len(subdirs) != 1:
            raise DisfaFormatError(
                f"{folder}: expected one sub-folder of *_lm.mat files, found "
                f"{len(subdirs)}" + (f" ({', '.join(d.name for d in subdirs)})" if subdirs else ""))
        return subdirs[0]
