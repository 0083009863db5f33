"""FMAE's face preparation and training augmentation, as auzoo pipeline steps.

Each step is called with ``results`` (``img`` uint8 H x W x 3 RGB,
``landmarks`` (66, 2) float32 pixels of ``img``, NaN where unknown, and
bookkeeping) and returns it changed:

* :class:`FaceBoxCrop`: the official face preparation, a face box enlarged by
  5 % of its size on each side, cropped (black beyond the image) and resized
  to 224 x 224, no alignment. The official box is a face detector's
  (1adrianb/face-alignment's S3FD); here it is the box of the landmarks.
* :class:`TimmRandomResizedCrop`, :class:`TimmRandAugment` and
  :class:`TimmRandomErasing`: timm's ``RandomResizedCropAndInterpolation``,
  ``rand_augment_transform`` and ``RandomErasing``, the training transform the
  official code builds with ``timm.data.create_transform`` (flip between the
  crop and RandAugment is auzoo's ``RandomFlip``).

timm's transforms draw from Python's ``random``, NumPy's and torch's global
generators; where ``results`` carries a NumPy ``rng``, each step seeds them
from it for its call (and restores them), so a pipeline run with a seed is
repeatable.
"""
from __future__ import annotations

import contextlib
import random
from typing import Iterator, Sequence, Tuple

import cv2
import numpy as np
import torch
from PIL import Image
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from auzoo.registry import TRANSFORMS

# RandAugment ops that move pixels (landmarks after them are unknown).
GEOMETRIC_OPS = ("Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY", "TranslateXRel",
                 "TranslateYRel")


@contextlib.contextmanager
def seeded_globals(results: dict) -> Iterator[None]:
    """Seed Python's, NumPy's and torch's global generators from ``results['rng']``
    for the duration (restored after); no-op without one."""
    rng = results.get("rng")
    if rng is None:
        yield
        return
    seed = int(rng.integers(2 ** 31))
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def _map_landmarks(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    return (pts @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def _box_matrix(x0: float, y0: float, x1: float, y1: float, size: int) -> np.ndarray:
    """2x3 matrix taking the box [x0, x1] x [y0, y1] (pixel edges, in pixel-centre
    coordinates) onto an S x S image's edges [-0.5, S - 0.5]."""
    sx, sy = size / (x1 - x0), size / (y1 - y0)
    return np.array([[sx, 0.0, -0.5 - sx * x0], [0.0, sy, -0.5 - sy * y0]])


@TRANSFORMS.register_module()
class FaceBoxCrop:
    """The face box, enlarged ``enlarge`` of its width/height on each side, resized to S x S.

    The box is that of the finite landmarks (jaw to jaw, brows to chin), the
    stand-in for the detector box the official preparation enlarges; it keeps
    its aspect ratio until the resize, as the official crop does. A frame
    without finite landmarks is an error (ValueError), as for every recipe's
    alignment.
    """

    def __init__(self, size: int = 224, enlarge: float = 0.05):
        if size < 1 or enlarge < 0:
            raise ValueError(f"FaceBoxCrop: size must be positive and enlarge >= 0, got "
                             f"{size}, {enlarge}")
        self.size, self.enlarge = int(size), float(enlarge)

    def box(self, landmarks: np.ndarray) -> Tuple[float, float, float, float]:
        pts = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
        pts = pts[np.isfinite(pts).all(axis=1)]
        if len(pts) < 2:
            raise ValueError("FaceBoxCrop: the frame has no finite landmarks to box the face")
        (x0, y0), (x1, y1) = pts.min(0) - 0.5, pts.max(0) + 0.5  # pixel edges
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise ValueError("FaceBoxCrop: degenerate landmarks (the face box has no extent)")
        dx, dy = self.enlarge * (x1 - x0), self.enlarge * (y1 - y0)
        return x0 - dx, y0 - dy, x1 + dx, y1 + dy

    def __call__(self, results: dict) -> dict:
        matrix = _box_matrix(*self.box(results["landmarks"]), self.size)
        results["img"] = cv2.warpAffine(results["img"], matrix, (self.size, self.size),
                                        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                        borderValue=(0, 0, 0))
        results["landmarks"] = _map_landmarks(results["landmarks"], matrix)
        return results

    def __repr__(self) -> str:
        return f"FaceBoxCrop(size={self.size}, enlarge={self.enlarge})"


@TRANSFORMS.register_module()
class TimmRandomResizedCrop:
    """timm's ``RandomResizedCropAndInterpolation``: a box of ``scale`` of the area and
    ``ratio`` aspect, resized to S x S; landmarks follow the box."""

    def __init__(self, size: int = 224, scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3), interpolation: str = "bicubic"):
        from timm.data.transforms import RandomResizedCropAndInterpolation

        self.crop = RandomResizedCropAndInterpolation(int(size), scale=tuple(scale),
                                                      ratio=tuple(ratio), interpolation=interpolation)
        self.size = int(size)

    def __call__(self, results: dict) -> dict:
        from torchvision.transforms import functional as F

        image = Image.fromarray(results["img"])
        with seeded_globals(results):
            top, left, h, w = self.crop.get_params(image, self.crop.scale, self.crop.ratio)
        out = F.resized_crop(image, top, left, h, w, [self.size, self.size], self.crop.interpolation)
        results["img"] = np.asarray(out, dtype=np.uint8).copy()
        matrix = _box_matrix(left - 0.5, top - 0.5, left + w - 0.5, top + h - 0.5, self.size)
        results["landmarks"] = _map_landmarks(results["landmarks"], matrix)
        return results

    def __repr__(self) -> str:
        return (f"TimmRandomResizedCrop(size={self.size}, scale={self.crop.scale}, "
                f"ratio={tuple(round(r, 4) for r in self.crop.ratio)})")


@TRANSFORMS.register_module()
class TimmRandAugment:
    """timm's RandAugment (``rand-m9-mstd0.5-inc1`` in FMAE's recipe) with the hyper-parameters
    ``create_transform`` gives it: translation 0.45 of the image size, fill = the
    normalisation mean, the crop's interpolation.

    The ops chosen are drawn as timm's ``RandAugment`` draws them; when one
    that moves pixels (rotate, shear, translate) is among them, the landmarks
    become unknown (NaN): timm does not say where it moved them.
    """

    def __init__(self, config: str = "rand-m9-mstd0.5-inc1", img_size: int = 224,
                 mean: Sequence[float] = IMAGENET_DEFAULT_MEAN, interpolation: str = "bicubic"):
        from timm.data.auto_augment import rand_augment_transform
        from timm.data.transforms import str_to_pil_interp

        hparams = dict(translate_const=int(img_size * 0.45),
                       img_mean=tuple(min(255, round(255 * m)) for m in mean),
                       interpolation=str_to_pil_interp(interpolation))
        self.config = config
        self.augment = rand_augment_transform(config, hparams)

    def __call__(self, results: dict) -> dict:
        aug = self.augment
        image = Image.fromarray(results["img"])
        with seeded_globals(results):
            ops = np.random.choice(aug.ops, aug.num_layers, replace=aug.choice_weights is None,
                                   p=aug.choice_weights)
            for op in ops:
                image = op(image)
        results["img"] = np.asarray(image, dtype=np.uint8).copy()
        if any(op.name in GEOMETRIC_OPS for op in ops):
            results["landmarks"] = np.full_like(results["landmarks"], np.nan)
        return results

    def __repr__(self) -> str:
        return f"TimmRandAugment({self.config!r})"


@TRANSFORMS.register_module()
class TimmRandomErasing:
    """timm's RandomErasing on the normalised image, written back as uint8.

    timm erases a box of the *normalised* image (``mode='pixel'``: standard
    normal noise per pixel). auzoo's pipelines hand uint8 images to the model,
    which normalises them itself; so the image is normalised with the model's
    mean/std, erased by timm, and mapped back (noise beyond [0, 255] clipped,
    rounded to whole levels). Pixels outside the box come back unchanged.
    """

    def __init__(self, prob: float = 0.25, mode: str = "pixel", max_count: int = 1,
                 mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
                 std: Sequence[float] = IMAGENET_DEFAULT_STD):
        from timm.data.random_erasing import RandomErasing

        self.erase = RandomErasing(probability=prob, mode=mode, max_count=max_count, device="cpu")
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)

    def __call__(self, results: dict) -> dict:
        x = torch.from_numpy(np.ascontiguousarray(results["img"])).permute(2, 0, 1).float()
        x = (x / 255.0 - self.mean) / self.std
        with seeded_globals(results):
            x = self.erase(x)
        x = ((x * self.std + self.mean) * 255.0).round_().clamp_(0, 255)
        results["img"] = x.to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
        return results

    def __repr__(self) -> str:
        return f"TimmRandomErasing(prob={self.erase.probability}, mode={self.erase.mode!r})"


__all__ = ["FaceBoxCrop", "GEOMETRIC_OPS", "TimmRandAugment", "TimmRandomErasing",
           "TimmRandomResizedCrop", "seeded_globals"]
