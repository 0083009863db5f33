"""AU centres from facial landmarks, and JAA-Net's predefined AU attention maps.

The rules are JAA-Net's: Shao, Liu, Cai & Ma, "Deep Adaptive Attention for
Joint Facial Action Unit Detection and Face Alignment", ECCV 2018, section 3.3
(and the AU-map code its authors released with it). The idea of AU attention
centred on landmarks comes from EAC-Net: Li, Abtahi, Zhu & Yin, "EAC-Net: Deep
Nets with Enhancing and Cropping for Facial Action Unit Detection", TPAMI 2018.

Every AU has two centres, one on each side of the face: a pair of landmarks,
each moved up or down by a multiple of the *ruler*, the horizontal distance
between the inner eye corners (which makes the shift scale with the face).
Landmark indices here are in the 66-point DISFA scheme. JAA-Net counts in the
49-point scheme, which is the 66-point one without the 17 jaw points, so its
point ``i`` is point ``i + 17`` here.

Attention around a centre ``c`` at image point ``p`` (JAA-Net's "manhattan"
fill, with ``W`` the image width)::

    v(p) = max(0, 1 - |p - c|_1 * fill_coeff / (spatial_ratio * W))

inside a square of side ``spatial_ratio * W`` centred on ``c``, and 0 outside;
an AU's map is the larger of its two centres' values. JAA-Net's constants,
``spatial_ratio = 0.14`` and ``fill_coeff = 0.56``, give a square about a
seventh of the face wide whose weights fall from 1 at the centre to about 0.4 in
its corners.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

NUM_LANDMARKS = 66
RULER = (39, 42)  # inner corners of the two eyes; the ruler is their x distance


@dataclass(frozen=True)
class AUCentreRule:
    landmarks: Tuple[int, int]  # the pair, 66-point scheme (face's right, face's left)
    shift: float  # vertical move in rulers; negative is up
    where: str


AU_CENTRE_RULES: Dict[int, AUCentreRule] = {
    1: AUCentreRule((21, 22), -1 / 2, "inner brow ends, half a ruler above"),
    2: AUCentreRule((18, 25), -1 / 3, "outer brows, a third of a ruler above"),
    4: AUCentreRule((19, 24), +1 / 3, "brow middles, a third of a ruler below"),
    6: AUCentreRule((41, 46), +1, "lower eyelids, one ruler below (the cheeks)"),
    7: AUCentreRule((38, 43), 0, "upper eyelids"),
    9: AUCentreRule((32, 34), -1 / 2, "nostril wings, half a ruler above (the sides of the nose)"),
    10: AUCentreRule((60, 62), 0, "upper inner lip"),
    12: AUCentreRule((48, 54), 0, "mouth corners"),
    14: AUCentreRule((48, 54), 0, "mouth corners"),
    15: AUCentreRule((48, 54), 0, "mouth corners"),
    17: AUCentreRule((56, 58), +1 / 2, "lower lip, half a ruler below (the chin)"),
    23: AUCentreRule((51, 57), 0, "middle of the upper and of the lower lip"),
    24: AUCentreRule((51, 57), 0, "middle of the upper and of the lower lip"),
    25: AUCentreRule((51, 57), 0, "middle of the upper and of the lower lip"),
    26: AUCentreRule((56, 58), +1 / 2, "lower lip, half a ruler below"),
}


def check_aus(aus: Sequence[int]) -> Tuple[int, ...]:
    aus = tuple(int(au) for au in aus)
    unknown = [au for au in aus if au not in AU_CENTRE_RULES]
    if unknown:
        raise ValueError(f"no AU centre rule for AU {unknown}; rules exist for AUs "
                         f"{sorted(AU_CENTRE_RULES)}")
    return aus


def au_centres(landmarks: Tensor, aus: Sequence[int]) -> Tensor:
    """AU centres (N, A, 2, 2): sample, AU, side, (x, y), in the landmarks' pixels.

    ``landmarks``: (N, 66, 2) (x, y) points of the 66-point scheme.
    """
    if landmarks.ndim != 3 or landmarks.shape[1:] != (NUM_LANDMARKS, 2):
        raise ValueError(f"expected landmarks (N, {NUM_LANDMARKS}, 2), got {tuple(landmarks.shape)}")
    aus = check_aus(aus)
    pairs = torch.tensor([AU_CENTRE_RULES[au].landmarks for au in aus], device=landmarks.device)
    shifts = torch.tensor([AU_CENTRE_RULES[au].shift for au in aus],
                          dtype=landmarks.dtype, device=landmarks.device)
    ruler = (landmarks[:, RULER[0], 0] - landmarks[:, RULER[1], 0]).abs()  # (N,)
    centres = landmarks[:, pairs]  # (N, A, 2, 2)
    dy = shifts[None, :, None] * ruler[:, None, None]  # (N, A, 1)
    return centres + torch.stack([torch.zeros_like(dy), dy], dim=-1)


def au_attention_maps(centres: Tensor, image_size: Tuple[int, int], map_size: Tuple[int, int],
                      spatial_ratio: float = 0.14, fill_coeff: float = 0.56,
                      supersample: int = 1) -> Tensor:
    """JAA-Net's predefined attention (N, A, h, w) on a map covering the image.

    ``centres``: (N, A, 2, 2) from :func:`au_centres`, in pixels of an image of
    ``image_size`` (H, W); pixel ``(0, 0)``'s centre is the point (0, 0).
    ``map_size`` (h, w): the feature map the attention weighs. Each cell's value
    is the mean over ``supersample`` × ``supersample`` points spread over the
    cell, so that maps much coarser than the attention square still move
    smoothly with the landmarks. A sample whose centres are not all finite
    (missing landmarks) gets attention 1 everywhere: its features pass
    unweighted.
    """
    height, width = image_size
    rows, cols = map_size
    s = int(supersample)
    if s < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    dtype, device = centres.dtype, centres.device
    # Sample points: the centres of the (rows*s) x (cols*s) sub-cells, in pixel coordinates.
    ys = (torch.arange(rows * s, dtype=dtype, device=device) + 0.5) * (height / (rows * s)) - 0.5
    xs = (torch.arange(cols * s, dtype=dtype, device=device) + 0.5) * (width / (cols * s)) - 0.5

    finite = torch.isfinite(centres).flatten(1).all(dim=1)  # (N,)
    centres = torch.nan_to_num(centres, nan=0.0, posinf=0.0, neginf=0.0)
    dx = (xs[None, None, None, None, :] - centres[..., 0, None, None]).abs()  # (N, A, 2, 1, X)
    dy = (ys[None, None, None, :, None] - centres[..., 1, None, None]).abs()  # (N, A, 2, Y, 1)
    side = spatial_ratio * width
    inside = (dx <= side / 2) & (dy <= side / 2)
    values = (1 - (dx + dy) * (fill_coeff / side)).clamp_min(0) * inside
    attention = values.amax(dim=2)  # the nearer of the two centres
    if s > 1:
        attention = F.avg_pool2d(attention, kernel_size=s)
    return torch.where(finite[:, None, None, None], attention, torch.ones_like(attention))


__all__ = ["AU_CENTRE_RULES", "AUCentreRule", "RULER", "au_centres", "au_attention_maps", "check_aus"]
