"""DISFA's single files: a label file, a landmark file, a video.

* A label file has one ``frame,intensity`` line per decoded video frame
  (intensity 0-5); the frame number is checked for format, not used.
* A landmark file (``*_lm.mat``) holds ``pts``, 66 x 2 MATLAB 1-based (x, y)
  in the left camera's frame; the reader returns 0-based pixels. Files scipy
  cannot read (MATLAB v7.3/HDF5) are reported as errors.
* A video is decoded by auzoo's one decoder (:mod:`auzoo.vision.video`).

Bad input raises :class:`DisfaFormatError` (a ValueError) naming the file
and, for label files, the line.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import scipy.io

N_LANDMARKS = 66
MAX_INTENSITY = 5


class DisfaFormatError(ValueError):
    """A DISFA file that does not have the expected content; names file (and line)."""


def read_label_file(path: Path) -> np.ndarray:
    """Intensities (uint8, one per line) of a ``frame,intensity`` label file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig", errors="strict")
    except UnicodeDecodeError as exc:
        raise DisfaFormatError(f"{path}: not a text file ({exc.reason})") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():  # trailing blank lines are harmless
        lines.pop()
    values = np.empty(len(lines), dtype=np.uint8)
    for k, line in enumerate(lines):
        parts = line.split(",")
        try:
            if len(parts) != 2:
                raise ValueError
            int(parts[0])
            value = int(parts[1])
        except ValueError:
            raise DisfaFormatError(
                f"{path}, line {k + 1}: expected 'frame,intensity', got {line.strip()!r}") from None
        if not 0 <= value <= MAX_INTENSITY:
            raise DisfaFormatError(
                f"{path}, line {k + 1}: intensity {value} is outside 0-{MAX_INTENSITY}")
        values[k] = value
    if not len(values):
        raise DisfaFormatError(f"{path}: no label lines")
    return values


def read_landmark_file(path: Path) -> np.ndarray:
    """(66, 2) float32 0-based (x, y) pixels from a DISFA ``*_lm.mat`` file."""
    path = Path(path)
    try:
        mat = scipy.io.loadmat(str(path), variable_names=["pts"])
    except NotImplementedError:
        raise DisfaFormatError(
            f"{path}: MATLAB v7.3 (HDF5) file; auzoo reads MAT v4-v7.2 "
            "(re-save it with save(..., '-v7'))") from None
    except Exception as exc:  # scipy raises several types for a damaged file
        raise DisfaFormatError(f"{path}: cannot read .mat file ({exc})") from None
    if "pts" not in mat:
        raise DisfaFormatError(f"{path}: no variable 'pts'")
    pts = mat["pts"]
    if pts.shape != (N_LANDMARKS, 2) or not np.issubdtype(pts.dtype, np.number):
        raise DisfaFormatError(
            f"{path}: 'pts' should be a {N_LANDMARKS}x2 numeric array, got {pts.shape} {pts.dtype}")
    return pts.astype(np.float32) - 1.0  # MATLAB 1-based -> 0-based pixels


def iter_video(path: Path, limit: Optional[int] = None, rgb: bool = True) -> Iterator[np.ndarray]:
    """Decode a video frame by frame (auzoo's one decoder, :mod:`auzoo.vision.video`):
    (H, W, 3) uint8, RGB (or OpenCV's BGR).

    Stops after ``limit`` frames. An unreadable video raises DisfaFormatError.
    """
    from auzoo.vision.video import VideoError, iter_frames

    path = Path(path)
    count = 0
    try:
        for _, _, image in iter_frames(path, limit=limit, format="rgb24" if rgb else "bgr24",
                                       threads=1):
            count += 1
            yield image
    except VideoError as exc:
        raise DisfaFormatError(f"{path}: cannot decode the video ({exc})") from None
    if count == 0 and limit != 0:
        raise DisfaFormatError(f"{path}: no frame could be decoded")
