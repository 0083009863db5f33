"""FMAE's face preparation and training augmentation, as auzoo pipeline steps.

* :class:`FaceBoxCrop`: the official face preparation, a face box enlarged by
  5 % of its size on each side, cropped (black beyond the frame) and resized
  to 224 x 224, no alignment. The official box is a face detector's
  (1adrianb/face-alignment's S3FD); here it is the box of the landmarks.
* :class:`TimmRandomResizedCrop`, :class:`TimmRandAugment` and
  :class:`TimmRandomErasing`: the training transform the official code builds
  with ``timm.data.create_transform``, from timm's own pieces
  (``RandomResizedCropAndInterpolation``, ``rand_augment_transform``,
  ``RandomErasing``); the flip between the crop and RandAugment is auzoo's
  ``RandomFlip``.

The two crops are geometric steps: they compose the pipeline's pending warp
(:mod:`auzoo.data.transforms.base`), so the face is resampled once, from the
cache's loose crop. RandAugment and RandomErasing change pixels: they render
the warp first. timm draws from Python's ``random``, NumPy's and torch's
global generators; each step seeds them from the pipeline's ``rng`` for its
call and restores them after, so a seeded pipeline repeats.
"""
from __future__ import annotations

import contextlib
import random
from typing import Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from auzoo.data.transforms.base import Transform, affine, compose, output_points, render
from auzoo.registry import TRANSFORMS

# RandAugment ops that move pixels (landmarks after them are unknown).
GEOMETRIC_OPS = ("Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY", "TranslateXRel",
                 "TranslateYRel")


@contextlib.contextmanager
def seeded_globals(rng: np.random.Generator) -> Iterator[None]:
    """Python's, NumPy's and torch's global generators seeded from ``rng`` for the
    duration, and restored after."""
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


def box_matrix(x0: float, y0: float, x1: float, y1: float, size: int) -> np.ndarray:
    """3x3 matrix taking the box [x0, x1] x [y0, y1] (pixel edges, in pixel-centre
    coordinates) onto an S x S image's edges [-0.5, S - 0.5]."""
    sx, sy = size / (x1 - x0), size / (y1 - y0)
    return affine(np.diag([sx, sy]), [-0.5 - sx * x0, -0.5 - sy * y0])


@TRANSFORMS.register_module()
class FaceBoxCrop(Transform):
    """The face box, enlarged ``enlarge`` of its width / height on each side, to S x S.

    The box is that of the finite landmarks (jaw to jaw, brows to chin), the
    stand-in for the detector box the official preparation enlarges; its
    aspect is not kept (the official crop is resized to 224 x 224 too). Beyond
    the frame: black. A face without usable landmarks becomes an empty image
    with NaN landmarks, as with every recipe's alignment.
    """

    border = 0

    def __init__(self, size: int = 224, enlarge: float = 0.05):
        if int(size) < 1 or float(enlarge) < 0:
            raise ValueError(f"FaceBoxCrop: size must be positive and enlarge >= 0, got "
                             f"{size}, {enlarge}")
        self.size, self.enlarge = int(size), float(enlarge)

    def box(self, points: np.ndarray):
        """(x0, y0, x1, y1) in pixel edges, or None without a face-sized box."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        pts = pts[np.isfinite(pts).all(axis=1)]
        if len(pts) < 2:
            return None
        (x0, y0), (x1, y1) = pts.min(0) - 0.5, pts.max(0) + 0.5
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        dx, dy = self.enlarge * (x1 - x0), self.enlarge * (y1 - y0)
        return x0 - dx, y0 - dy, x1 + dx, y1 + dy

    def __call__(self, results):
        box = self.box(output_points(results))
        if box is None:
            results["blank"] = True
            results["landmarks"] = np.full_like(results["landmarks"], np.nan)
            compose(results, np.eye(3), (self.size, self.size))
        else:
            compose(results, box_matrix(*box, self.size), (self.size, self.size))
        results["border"] = self.border
        self.record(results)
        return results


@TRANSFORMS.register_module()
class TimmRandomResizedCrop(Transform):
    """timm's ``RandomResizedCropAndInterpolation``: a box of ``scale`` of the area
    and ``ratio`` aspect, drawn by timm, resized to S x S (landmarks follow)."""

    random = True

    def __init__(self, size: int = 224, scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3), interpolation: str = "bicubic"):
        from timm.data.transforms import RandomResizedCropAndInterpolation

        self.size, self.scale, self.ratio = int(size), tuple(scale), tuple(ratio)
        self.interpolation = interpolation
        self.crop = RandomResizedCropAndInterpolation(self.size, scale=self.scale,
                                                      ratio=self.ratio, interpolation=interpolation)

    def __call__(self, results):
        h, w = results["size"]
        with seeded_globals(results["rng"]):
            # timm reads only the image's size from it
            top, left, ch, cw = self.crop.get_params(Image.new("L", (w, h)), self.scale, self.ratio)
        compose(results, box_matrix(left - 0.5, top - 0.5, left + cw - 0.5, top + ch - 0.5,
                                    self.size), (self.size, self.size))
        self.record(results, box=[int(top), int(left), int(ch), int(cw)])
        return results


@TRANSFORMS.register_module()
class TimmRandAugment(Transform):
    """timm's RandAugment (``rand-m9-mstd0.5-inc1`` in FMAE's recipe) with the
    hyper-parameters ``create_transform`` gives it: translation 0.45 of the image
    size, fill = the normalisation mean, the crop's interpolation.

    The ops are drawn as timm's ``RandAugment.__call__`` draws them; when one
    that moves pixels (rotate, shear, translate) is among them, the landmarks
    become unknown (NaN): timm does not say where it moved them.
    """

    random = True

    def __init__(self, config: str = "rand-m9-mstd0.5-inc1", img_size: int = 224,
                 mean: Sequence[float] = IMAGENET_DEFAULT_MEAN, interpolation: str = "bicubic"):
        from timm.data.auto_augment import rand_augment_transform
        from timm.data.transforms import str_to_pil_interp

        self.config, self.img_size, self.mean = config, int(img_size), tuple(mean)
        self.interpolation = interpolation
        hparams = dict(translate_const=int(self.img_size * 0.45),
                       img_mean=tuple(min(255, round(255 * m)) for m in self.mean),
                       interpolation=str_to_pil_interp(interpolation))
        self.augment = rand_augment_transform(config, hparams)

    def __call__(self, results):
        aug = self.augment
        render(results)
        image = Image.fromarray(results["img"])
        with seeded_globals(results["rng"]):
            ops = np.random.choice(aug.ops, aug.num_layers, replace=aug.choice_weights is None,
                                   p=aug.choice_weights)
            for op in ops:
                image = _apply(op, image)
        results["img"] = np.asarray(image, dtype=np.uint8).copy()
        names = [op.name for op in ops]
        if any(name in GEOMETRIC_OPS for name in names):
            results["landmarks"] = np.full_like(results["landmarks"], np.nan)
        self.record(results, ops=names)
        return results


def _apply(op, image: Image.Image) -> Image.Image:
    """One RandAugment op. At the top magnitude timm's increasing posterize keeps
    0 bits, which Pillow 11 and later refuse; older Pillow (the official
    environment's) returned a black image, and so does this."""
    try:
        return op(image)
    except ValueError:
        if not op.name.startswith("Posterize"):
            raise
        return Image.new(image.mode, image.size)


@TRANSFORMS.register_module()
class TimmRandomErasing(Transform):
    """timm's RandomErasing on the normalised image, written back as uint8.

    timm erases a box of the *normalised* image (``mode='pixel'``: standard
    normal noise per pixel). auzoo's pipelines hand uint8 images to the model,
    which normalises them itself; so the image is normalised with the model's
    mean / std, erased by timm, and mapped back (noise beyond 0-255 clipped,
    rounded to whole levels). Pixels outside the box come back unchanged.
    """

    random = True

    def __init__(self, prob: float = 0.25, mode: str = "pixel", max_count: int = 1,
                 mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
                 std: Sequence[float] = IMAGENET_DEFAULT_STD):
        from timm.data.random_erasing import RandomErasing

        self.prob, self.mode, self.max_count = float(prob), mode, int(max_count)
        self.mean, self.std = tuple(mean), tuple(std)
        self.erase = RandomErasing(probability=self.prob, mode=mode, max_count=self.max_count,
                                   device="cpu")
        self._mean = torch.tensor(self.mean, dtype=torch.float32).view(3, 1, 1)
        self._std = torch.tensor(self.std, dtype=torch.float32).view(3, 1, 1)

    def __call__(self, results):
        render(results)
        before = results["img"]
        x = torch.from_numpy(np.ascontiguousarray(before)).permute(2, 0, 1).float()
        x = (x / 255.0 - self._mean) / self._std
        with seeded_globals(results["rng"]):
            x = self.erase(x)
        x = ((x * self._std + self._mean) * 255.0).round_().clamp_(0, 255)
        results["img"] = x.to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
        self.record(results, erased=bool((results["img"] != before).any()))
        return results


__all__ = ["FaceBoxCrop", "GEOMETRIC_OPS", "TimmRandAugment", "TimmRandomErasing",
           "TimmRandomResizedCrop", "box_matrix", "seeded_globals"]
