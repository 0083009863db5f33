"""JAA-Net's 49 landmarks, its AU centres, and its predefined attention maps.

JAA-Net predicts 49 facial points: the iBUG-68 points without the 17 jaw
points and without the two inner mouth corners. auzoo's 66-point DISFA scheme
is iBUG-68 without the inner mouth corners, so JAA-Net's point ``i`` (0-based)
is auzoo's point ``i + 17``: the 49 points are the 66 without the jaw
(:func:`jaa_points`).

Every AU has two centres, a pair of landmarks each moved up or down by a
multiple of the *ruler*, the horizontal distance between the inner eye corners
(JAA-Net's points 22 and 25, auzoo's 39 and 42). The table below is JAA-Net's
(ECCV 2018, section 3.3, and its authors' code), in JAA-Net's 0-based 49-point
indices; a negative shift is up. AUs 12/14/15 share the mouth-corner map,
23/24 (and DISFA's 25) the lip-middle map, 17 and 26 the chin map.

The initial attention of an AU is built on a square grid of ``L`` cells that
covers the input image (scale ``L / S`` for an ``S``-pixel input): around each
centre cell ``c = round(centre × L / S)`` the cells within ``h = round((L - 1)
/ 2 × spatial_ratio)`` on both axes get ``1 - |cell - c|₁ × fill_coeff /
(L × spatial_ratio)``, the others 0, and the two centres merge by max. With
JAA-Net's ``L = 52``, ``spatial_ratio = 0.14`` and ``fill_coeff = 0.56`` that is
a 9×9 square falling from 1 by 1/13 per cell of Manhattan distance.
The maps are built from *predicted* landmarks and carry no gradient.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import torch
from torch import Tensor

NUM_POINTS = 49
FIRST_POINT_IN_66 = 17  # JAA-Net's point i is auzoo's 66-point i + 17 (no jaw)
RULER = (22, 25)        # inner eye corners, 49-point indices
IMAGE_LEFT_EYE = tuple(range(19, 25))   # the eye on the image's left (points 36-41 of 66)
IMAGE_RIGHT_EYE = tuple(range(25, 31))  # the eye on the image's right (points 42-47 of 66)


@dataclass(frozen=True)
class AUCentreRule:
    points: Tuple[int, int]  # 49-point indices, 0-based
    shift: float             # vertical move in rulers; negative is up
    where: str


AU_CENTRE_RULES: Dict[int, AUCentreRule] = {
    1: AUCentreRule((4, 5), -1 / 2, "inner brow ends, half a ruler above"),
    2: AUCentreRule((1, 8), -1 / 3, "outer brows, a third of a ruler above"),
    4: AUCentreRule((2, 7), +1 / 3, "brow middles, a third of a ruler below"),
    6: AUCentreRule((24, 29), +1, "lower eyelids, one ruler below (cheeks)"),
    7: AUCentreRule((21, 26), 0, "upper eyelids"),
    9: AUCentreRule((15, 17), -1 / 2, "nostril wings, half a ruler above"),
    10: AUCentreRule((43, 45), 0, "upper inner lip"),
    12: AUCentreRule((31, 37), 0, "mouth corners"),
    14: AUCentreRule((31, 37), 0, "mouth corners"),
    15: AUCentreRule((31, 37), 0, "mouth corners"),
    17: AUCentreRule((39, 41), +1 / 2, "lower lip, half a ruler below (chin)"),
    23: AUCentreRule((34, 40), 0, "middles of the upper and lower lip"),
    24: AUCentreRule((34, 40), 0, "middles of the upper and lower lip"),
    25: AUCentreRule((34, 40), 0, "middles of the upper and lower lip"),
    26: AUCentreRule((39, 41), +1 / 2, "lower lip, half a ruler below (chin)"),
}


def check_aus(aus: Sequence[int]) -> Tuple[int, ...]:
    aus = tuple(int(au) for au in aus)
    if not aus:
        raise ValueError("JAA-Net needs at least one AU")
    unknown = [au for au in aus if au not in AU_CENTRE_RULES]
    if unknown:
        raise ValueError(f"JAA-Net has no attention centre for AU {unknown}; it defines AUs "
                         f"{sorted(AU_CENTRE_RULES)}")
    if len(set(aus)) != len(aus):
        raise ValueError(f"aus {aus} name an AU twice")
    return aus


def jaa_points(landmarks66: Tensor) -> Tensor:
    """(N, 66, 2) points of auzoo's scheme -> (N, 49, 2) JAA-Net points (NaN stays NaN)."""
    if landmarks66.ndim != 3 or tuple(landmarks66.shape[1:]) != (66, 2):
        raise ValueError(f"expected landmarks (N, 66, 2), got {tuple(landmarks66.shape)}")
    return landmarks66[:, FIRST_POINT_IN_66:]


def eye_centres(points49: Tensor) -> Tuple[Tensor, Tensor]:
    """Mean of each eye's six points, (N, 2) each (NaN if any is missing)."""
    left = points49[:, list(IMAGE_LEFT_EYE)].mean(dim=1)
    return left, points49[:, list(IMAGE_RIGHT_EYE)].mean(dim=1)


def au_centres(points49: Tensor, aus: Sequence[int]) -> Tensor:
    """AU centres (N, A, 2, 2): sample, AU, which of the pair, (x, y), in the points' pixels."""
    if points49.ndim != 3 or tuple(points49.shape[1:]) != (NUM_POINTS, 2):
        raise ValueError(f"expected JAA-Net points (N, {NUM_POINTS}, 2), "
                         f"got {tuple(points49.shape)}")
    aus = check_aus(aus)
    pairs = torch.tensor([AU_CENTRE_RULES[au].points for au in aus], device=points49.device)
    shifts = torch.tensor([AU_CENTRE_RULES[au].shift for au in aus], dtype=points49.dtype,
                          device=points49.device)
    ruler = (points49[:, RULER[0], 0] - points49[:, RULER[1], 0]).abs()  # (N,)
    dy = shifts[None, :, None] * ruler[:, None, None]  # (N, A, 1)
    return points49[:, pairs] + torch.stack([torch.zeros_like(dy), dy], dim=-1)


@torch.no_grad()
def initial_attention(centres: Tensor, image_size: int, map_size: int, spatial_ratio: float = 0.14,
                      fill_coeff: float = 0.56) -> Tensor:
    """JAA-Net's predefined attention (N, A, L, L) with L = ``map_size`` (see module doc).

    ``centres``: (N, A, 2, 2) from :func:`au_centres`, in pixels of a square
    input of ``image_size``. A centre that is not finite adds nothing.
    The authors' code clips the square's corners into the map before filling
    it, which paints a border cell when a centre lies far outside; here the
    square is simply cut by the map's edge.
    """
    size = int(map_size)
    scale = size / float(image_size)
    half = float(round((size - 1) / 2.0 * spatial_ratio))
    slope = fill_coeff / (size * spatial_ratio)
    centres = centres.float()
    cells = torch.round(centres * scale)  # round half to even, as the authors' Python does
    finite = torch.isfinite(cells).all(dim=-1)  # (N, A, 2)
    cells = torch.nan_to_num(cells, nan=0.0, posinf=0.0, neginf=0.0)
    grid = torch.arange(size, dtype=centres.dtype, device=centres.device)
    dx = (grid[None, None, None, None, :] - cells[..., 0, None, None]).abs()  # (N, A, 2, 1, L)
    dy = (grid[None, None, None, :, None] - cells[..., 1, None, None]).abs()  # (N, A, 2, L, 1)
    inside = (dx <= half) & (dy <= half) & finite[..., None, None]
    values = (1 - (dx + dy) * slope).clamp_min(0) * inside
    return values.amax(dim=2)


__all__ = ["AU_CENTRE_RULES", "AUCentreRule", "FIRST_POINT_IN_66", "NUM_POINTS", "RULER",
           "au_centres", "check_aus", "eye_centres", "initial_attention", "jaa_points"]
