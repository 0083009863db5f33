"""One subject's arrays as prepare writes them: loose face crops, landmarks, matrices."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Optional

import numpy as np

import cv2

from auzoo.data.align import loose_crop_matrix, transform_points
from auzoo.data.cache_format import (FRAME_BOX_FILE, FRAMES_FILE, LANDMARKS_FILE, MATRICES_FILE,
                                     N_LANDMARKS, SOURCE_LANDMARKS_FILE)


def subject_digest(subject: str, labels: np.ndarray, landmarks: np.ndarray) -> str:
    """Digest of a subject's labels (n, AUs) uint8 and source landmarks (n, 66, 2) float32."""
    h = hashlib.sha256(subject.encode())
    h.update(np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(landmarks, dtype=np.float32).tobytes())
    return h.hexdigest()


def truncate_npy(path: Path, n: int) -> None:
    """Shrink a saved array to its first ``n`` rows in place (header + file size)."""
    with open(path, "r+b") as f:
        version = np.lib.format.read_magic(f)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read(f)
        offset = f.tell()
        header = io.BytesIO()
        write = (np.lib.format.write_array_header_1_0 if version == (1, 0)
                 else np.lib.format.write_array_header_2_0)
        write(header, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran,
                       "shape": (n, *shape[1:])})
        if len(header.getvalue()) == offset:
            f.seek(0)
            f.write(header.getvalue())
            f.truncate(offset + n * int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize)
            return
    data = np.load(path, mmap_mode="r")[:n].copy()  # header grew: rewrite the file
    np.save(path, data)


class SubjectArrays:
    """Loose face crops of up to ``n`` frames, written straight into a memory map.

    :meth:`add` crops frame ``k`` around its own landmarks
    (:func:`auzoo.data.align.loose_crop_matrix`: a square, scaled, not
    rotated); each model's recipe aligns from that crop when it loads the
    frame. A frame never added, or whose landmarks are missing or unusable,
    stays all zeros with NaN landmarks: it is never cropped with another
    frame's points. ``frame_box`` keeps where the source frame lies in the
    crop, so that a recipe fills what lies beyond it with its own border.
    """

    def __init__(self, folder: Path, n: int, size: int):
        self.folder, self.n, self.size = Path(folder), n, size
        self.frames = np.lib.format.open_memmap(self.folder / FRAMES_FILE, mode="w+",
                                                dtype=np.uint8, shape=(n, size, size, 3))
        self.source = np.full((n, N_LANDMARKS, 2), np.nan, dtype=np.float32)
        self.aligned_points = np.full((n, N_LANDMARKS, 2), np.nan, dtype=np.float32)
        self.matrices = np.full((n, 2, 3), np.nan, dtype=np.float32)
        self.frame_box = np.full((n, 4), np.nan, dtype=np.float32)
        self.aligned = np.zeros(n, dtype=bool)
        self.missing = np.ones(n, dtype=bool)

    def add(self, k: int, bgr: np.ndarray, points: Optional[np.ndarray],
            align_points: Optional[np.ndarray] = None, reduction: int = 1) -> None:
        """Frame ``k`` (BGR) with its 66 source landmarks (None: none found).

        ``align_points`` (default: ``points``) are what the alignment uses,
        e.g. points completed where the source has none (49-point lists have no jaw).
        ``reduction``: ``bgr`` is the source decoded at 1/reduction of its size
        (landmarks and the stored matrix stay in the source's pixels).
        """
        if points is None:
            return
        self.source[k], self.missing[k] = points, False
        use = points if align_points is None else align_points
        if not np.isfinite(use[[8, 27, 30]]).all():
            return
        try:
            m = loose_crop_matrix(use, self.size)
        except ValueError:  # degenerate landmarks: no image, flagged
            return
        warp = m
        if reduction != 1:  # source pixel x = r * x_reduced + (r - 1) / 2
            warp = np.hstack([m[:, :2] * reduction, (m[:, :2].sum(1) * (reduction - 1) / 2
                                                     + m[:, 2])[:, None]])
        face = cv2.warpAffine(bgr, warp, (self.size, self.size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        self.frames[k] = face[..., ::-1]  # BGR -> RGB
        self.aligned_points[k] = transform_points(points, m)
        self.matrices[k] = m
        h, w = bgr.shape[0] * reduction, bgr.shape[1] * reduction  # the source's pixel edges
        corners = transform_points(np.array([[-0.5, -0.5], [w - 0.5, h - 0.5]]), m)
        self.frame_box[k] = corners.reshape(-1)
        self.aligned[k] = True

    def close(self, n: Optional[int] = None) -> None:
        """Save the landmark arrays; keep only the first ``n`` frames if given."""
        n = self.n if n is None else n
        self.frames.flush()
        del self.frames
        if n < self.n:
            truncate_npy(self.folder / FRAMES_FILE, n)
        np.save(self.folder / LANDMARKS_FILE, self.aligned_points[:n])
        np.save(self.folder / SOURCE_LANDMARKS_FILE, self.source[:n])
        np.save(self.folder / MATRICES_FILE, self.matrices[:n])
        np.save(self.folder / FRAME_BOX_FILE, self.frame_box[:n])
        for name in ("source", "aligned_points", "matrices", "frame_box", "aligned", "missing"):
            setattr(self, name, getattr(self, name)[:n])
        self.n = n
