"""Colour jitter on uint8 RGB, as torchvision's ``ColorJitter`` draws it."""
from __future__ import annotations

import cv2
import numpy as np

from auzoo.data.transforms.base import Transform, render
from auzoo.registry import TRANSFORMS


def _range(value: float, centre: float = 1.0, low: float = 0.0):
    value = float(value)
    if value < 0:
        raise ValueError(f"jitter strength {value} must be >= 0")
    return (max(low, centre - value), centre + value)


@TRANSFORMS.register_module()
class ColorJitter(Transform):
    """Brightness, contrast and saturation factors drawn uniformly from
    [max(0, 1 - v), 1 + v], hue shift from [-hue, hue] (fraction of the colour
    circle), applied in a random order, as torchvision's ``ColorJitter``:
    brightness scales the image, contrast blends it with its mean grey level,
    saturation with its grey image. Computed in uint8 with OpenCV (rounded
    where torchvision truncates: at most one grey level apart)."""

    random = True

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                 hue: float = 0.0):
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.saturation, self.hue = float(saturation), float(hue)
        if not 0 <= self.hue <= 0.5:
            raise ValueError(f"ColorJitter hue {hue} must be in [0, 0.5]")

    def __call__(self, results):
        rng = results["rng"]
        order = rng.permutation(4)
        b = rng.uniform(*_range(self.brightness)) if self.brightness else None
        c = rng.uniform(*_range(self.contrast)) if self.contrast else None
        s = rng.uniform(*_range(self.saturation)) if self.saturation else None
        h = rng.uniform(-self.hue, self.hue) if self.hue else None
        render(results)
        img = results["img"]
        for op in order:
            if op == 0 and b is not None:
                img = cv2.convertScaleAbs(img, alpha=b)
            elif op == 1 and c is not None:
                mean = float(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).mean())
                img = cv2.convertScaleAbs(img, alpha=c, beta=(1.0 - c) * mean)
            elif op == 2 and s is not None:
                grey = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
                img = cv2.addWeighted(img, s, grey, 1.0 - s, 0.0)
            elif op == 3 and h is not None:
                hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)  # OpenCV's hue: 0-179
                hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + int(round(h * 180))) % 180
                               ).astype(np.uint8)
                img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        results["img"] = img
        drawn = {k: round(float(v), 4) for k, v in (("brightness_factor", b),
                 ("contrast_factor", c), ("saturation_factor", s), ("hue_shift", h)) if v is not None}
        self.record(results, order=[int(o) for o in order], **drawn)
        return results
