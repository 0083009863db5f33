"""Crops, resizing and the mirror flip: each composes the pending warp only."""
from __future__ import annotations

import numpy as np

from auzoo.data.align import FLIP_PERMUTATION_66
from auzoo.data.transforms.base import Transform, affine, compose
from auzoo.registry import TRANSFORMS


def _pair(size):
    return (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))


@TRANSFORMS.register_module()
class RandomCrop(Transform):
    """A ``size`` crop at an offset drawn uniformly from 0 .. H - size (and W),
    inclusive, as torchvision's and JAA-Net's random crops draw it."""

    random = True

    def __init__(self, size):
        self.size = size

    def __call__(self, results):
        (h, w), (th, tw) = results["size"], _pair(self.size)
        if th > h or tw > w:
            raise ValueError(f"RandomCrop({self.size}) is larger than the {h}x{w} image before it")
        top = int(results["rng"].integers(0, h - th + 1))
        left = int(results["rng"].integers(0, w - tw + 1))
        compose(results, affine(np.eye(2), [-left, -top]), (th, tw))
        self.record(results, offset=[top, left])
        return results


@TRANSFORMS.register_module()
class CenterCrop(Transform):
    """The central ``size`` crop (offset round((H - size) / 2), as torchvision's)."""

    def __init__(self, size):
        self.size = size

    def __call__(self, results):
        (h, w), (th, tw) = results["size"], _pair(self.size)
        if th > h or tw > w:
            raise ValueError(f"CenterCrop({self.size}) is larger than the {h}x{w} image before it")
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        compose(results, affine(np.eye(2), [-left, -top]), (th, tw))
        self.record(results)
        return results


@TRANSFORMS.register_module()
class Resize(Transform):
    """Scale the whole image to ``size`` (pixel centres kept: x' = (x + .5) s - .5)."""

    def __init__(self, size):
        self.size = size

    def __call__(self, results):
        (h, w), (th, tw) = results["size"], _pair(self.size)
        if (h, w) != (th, tw):
            sx, sy = tw / w, th / h
            compose(results, affine(np.diag([sx, sy]), [0.5 * sx - 0.5, 0.5 * sy - 0.5]), (th, tw))
        self.record(results)
        return results


@TRANSFORMS.register_module()
class RandomFlip(Transform):
    """Mirror left-right with probability ``prob``: x -> W - 1 - x, and the 66
    landmarks renumbered (the subject's left eye is now where the right was).
    AU labels stay: DISFA's and BP4D's AUs are coded for both sides together."""

    random = True

    def __init__(self, prob: float = 0.5):
        self.prob = float(prob)

    def __call__(self, results):
        flip = bool(results["rng"].random() < self.prob)
        if flip:
            w = results["size"][1]
            compose(results, affine(np.diag([-1.0, 1.0]), [w - 1, 0.0]), results["size"])
            results["landmarks"] = results["landmarks"][FLIP_PERMUTATION_66]
        results["flipped"] = results.get("flipped", False) ^ flip
        self.record(results, flipped=flip)
        return results
