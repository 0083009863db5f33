"""Face alignment as a pipeline step: each recipe's similarity from the landmarks.

* :class:`AlignMidline` — TRA-Net (the paper's): nose root -> chin vertical,
  the nose at the centre, the chin at 0.9 S (:func:`auzoo.data.align.similarity_matrix`).
* :class:`AlignEyeBox` — JAA-Net's: eye line level, the box of the eye centres,
  nose tip and mouth corners enlarged 2.9 times, 200 px, grey border.
* :class:`AlignFivePoint` — a least-squares similarity onto insightface's
  5-point template (ME-GraphAU's faces are 5-point aligned to 256 px; its
  template is not released).

A face whose landmarks cannot be aligned becomes an empty (border) image with
NaN landmarks, as the cache's flagged frames are; ``bad_frames='drop'``
keeps them out of training and scoring.
"""
from __future__ import annotations

import numpy as np

from auzoo.data import align as geometry
from auzoo.data.transforms.base import Transform, compose, output_points
from auzoo.registry import TRANSFORMS


class _Align(Transform):
    border = 0

    def matrix(self, points: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, results):
        points = output_points(results)
        try:
            m = self.matrix(points)
        except ValueError:
            m = None
        if m is None:
            results["blank"] = True
            results["landmarks"] = np.full_like(results["landmarks"], np.nan)
            m = np.eye(2, 3)
        compose(results, m, (self.size, self.size))
        results["border"] = self.border
        self.record(results)
        return results


@TRANSFORMS.register_module()
class AlignMidline(_Align):
    """TRA-Net's alignment to ``size`` px (black border). A missing jaw (49-point
    lists) is completed from the mean face for the alignment only, as prepare does."""

    def __init__(self, size: int = 224, border: int = 0):
        self.size, self.border = int(size), int(border)

    def matrix(self, points):
        if not np.isfinite(points[geometry.CHIN]).all() and np.isfinite(points[17:]).all():
            points = geometry.complete_jaw(points)
        return geometry.similarity_matrix(points, self.size)


@TRANSFORMS.register_module()
class AlignEyeBox(_Align):
    """JAA-Net's alignment (its ``align_face_49pts``): ``size`` px, box ``enlarge``
    times its longer side, grey border."""

    def __init__(self, size: int = 200, enlarge: float = 2.9, border: int = 128):
        self.size, self.enlarge, self.border = int(size), float(enlarge), int(border)

    def matrix(self, points):
        return geometry.eye_box_matrix(points, self.size, self.enlarge)


@TRANSFORMS.register_module()
class AlignFivePoint(_Align):
    """Similarity onto insightface's 5-point template at ``size`` px (black border)."""

    def __init__(self, size: int = 256, border: int = 0):
        self.size, self.border = int(size), int(border)

    def matrix(self, points):
        return geometry.five_point_matrix(points, self.size)
