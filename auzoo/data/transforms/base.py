"""What a transform sees, and the one warp that renders it.

A pipeline carries a *results* dict from step to step::

    img        uint8 (H, W, 3) RGB: the cache's loose crop, or a whole frame in predict
    landmarks  float64 (66, 2) points of ``img`` (NaN where missing), renumbered by flips
    matrix     3x3 float64: ``img`` pixels -> output pixels, not yet applied
    size       (h, w) of the output
    border     fill value (0-255) where the output leaves the source
    valid      (x0, y0, x1, y1) region of ``img`` that holds source pixels, or None: all
    rng        numpy Generator for the random steps
    steps      what was applied: dict(type=..., **arguments, **drawn values)

Geometric steps (alignment, crops, flips, resizing) only compose ``matrix``;
the pixels are resampled once, by :func:`render`, when a step needs them
(colour jitter) or the pipeline ends. One bilinear warp from the loose crop
makes the model's input: a crop of an aligned face costs nothing and loses
nothing, and every recipe's geometry is exactly its matrix.
"""
from __future__ import annotations

import inspect
from typing import Any, Dict, Optional, Tuple

import cv2
import numpy as np

# Below this output/source scale, :func:`render` warps at full resolution first
# and shrinks with area averaging: a bilinear warp alone would alias.
MIN_DIRECT_SCALE = 0.6
_EYE = np.eye(3)


class Transform:
    """A pipeline step: ``results -> results``. Subclasses set ``random = True``
    if they draw from ``results['rng']`` and report what they drew in ``record``."""

    random = False

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        raise NotImplementedError

    def arguments(self) -> Dict[str, Any]:
        """The constructor's arguments (as given or defaulted), read back from attributes."""
        return {k: _plain(getattr(self, k)) for k in _parameters(type(self)) if hasattr(self, k)}

    def record(self, results: Dict[str, Any], **drawn) -> None:
        args = self.__dict__.get("_recorded")
        if args is None:  # arguments do not change: read them once
            args = self.__dict__["_recorded"] = dict(type=type(self).__name__, **self.arguments())
        results["steps"].append(dict(args, **drawn))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments().items())
        return f"{type(self).__name__}({args})"


_PARAMETERS: Dict[type, Tuple[str, ...]] = {}


def _parameters(cls) -> Tuple[str, ...]:
    names = _PARAMETERS.get(cls)
    if names is None:
        names = _PARAMETERS[cls] = tuple(
            k for k in inspect.signature(cls.__init__).parameters if k != "self")
    return names


def _plain(value):
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def affine(linear, offset) -> np.ndarray:
    """3x3 matrix of ``x -> linear @ x + offset``."""
    m = np.eye(3)
    m[:2, :2] = linear
    m[:2, 2] = offset
    return m


def as3x3(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    return m if m.shape == (3, 3) else np.vstack([m, [0.0, 0.0, 1.0]])


def output_points(results: Dict[str, Any]) -> np.ndarray:
    """The landmarks in the current output's pixels."""
    m = results["matrix"]
    return results["landmarks"] @ m[:2, :2].T + m[:2, 2]


def compose(results: Dict[str, Any], matrix: np.ndarray, size: Tuple[int, int]) -> None:
    """Follow the pending warp with ``matrix`` (current output -> new output of ``size``)."""
    results["matrix"] = as3x3(matrix) @ results["matrix"]
    results["size"] = (int(size[0]), int(size[1]))


def new_results(img: np.ndarray, landmarks: Optional[np.ndarray], rng=None,
                valid: Optional[Tuple[float, float, float, float]] = None) -> Dict[str, Any]:
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {img.dtype} {img.shape}")
    points = (np.full((66, 2), np.nan) if landmarks is None
              else np.asarray(landmarks, dtype=np.float64).reshape(-1, 2))
    return dict(img=img, landmarks=points, matrix=np.eye(3), size=img.shape[:2], border=0,
                valid=valid, rng=rng if rng is not None else np.random.default_rng(),
                steps=[], blank=False)


def _mark_outside(img: np.ndarray, valid, border: int) -> np.ndarray:
    """``img`` with the pixels outside ``valid`` (x0, y0, x1, y1; pixel edges) set to
    ``border``: what lies beyond the source frame takes the recipe's fill."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = valid
    c0, r0 = max(0, int(np.ceil(x0 - 0.5))), max(0, int(np.ceil(y0 - 0.5)))
    c1, r1 = min(w, int(np.floor(x1 - 0.5)) + 1), min(h, int(np.floor(y1 - 0.5)) + 1)
    if c0 == 0 and r0 == 0 and c1 == w and r1 == h:
        return img
    out = np.full_like(img, border)
    if c1 > c0 and r1 > r0:
        out[r0:r1, c0:c1] = img[r0:r1, c0:c1]
    return out


def render(results: Dict[str, Any]) -> Dict[str, Any]:
    """Apply the pending warp: ``img`` becomes the output, landmarks follow."""
    m, (h, w) = results["matrix"], results["size"]
    if (not results["blank"] and results["img"].shape[:2] == (h, w)
            and not np.any(np.abs(m - _EYE) > 1e-9)):
        return results
    border = int(results["border"])
    if results["blank"]:  # no usable landmarks: an empty face, as the cache keeps it
        img = np.full((h, w, 3), border, dtype=np.uint8)
    else:
        src = results["img"]
        if results.get("valid") is not None:
            src = _mark_outside(src, results["valid"], border)
        scale = np.sqrt(abs(np.linalg.det(m[:2, :2])))
        if scale < MIN_DIRECT_SCALE:
            # warp to an intermediate (ih, iw) at ~unit scale, then area-average down
            ih, iw = max(1, round(h / scale)), max(1, round(w / scale))
            shrink = affine(np.diag([w / iw, h / ih]), [0.5 * w / iw - 0.5, 0.5 * h / ih - 0.5])
            full = cv2.warpAffine(src, (np.linalg.inv(shrink) @ m)[:2], (iw, ih),
                                  flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=(border,) * 3)
            img = cv2.resize(full, (w, h), interpolation=cv2.INTER_AREA)
        else:
            img = cv2.warpAffine(src, m[:2], (w, h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(border,) * 3)
    results["landmarks"] = output_points(results)
    results["img"], results["matrix"], results["valid"] = img, np.eye(3), None
    results["blank"] = False
    return results
