import math

import pytest
import torch

from auzoo_jaanet.landmarks import (AU_CENTRE_RULES, au_centres, eye_centres, initial_attention,
                                    jaa_points)

BP4D_AUS = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)


def _face66(seed=0):
    """Landmarks (1, 66, 2): point k at (k + 10, 2k + 1) plus noise, inner eye corners set."""
    g = torch.Generator().manual_seed(seed)
    pts = torch.stack([torch.arange(66.0) + 10, 2 * torch.arange(66.0) + 1], dim=-1)
    pts = pts + torch.rand(66, 2, generator=g)
    pts[39, 0], pts[42, 0] = 70.0, 94.0  # ruler 24 px
    return pts[None]


def test_jaa_points_drop_the_jaw():
    lm = _face66()
    lm[0, 3] = float("nan")  # a jaw point: not one of JAA-Net's
    lm[0, 20] = float("nan")  # JAA-Net point 3
    pts = jaa_points(lm)
    assert pts.shape == (1, 49, 2)
    assert torch.equal(pts[0, 0], lm[0, 17])  # right outer brow end
    assert torch.equal(pts[0, 48], lm[0, 65])  # last inner lip point
    assert torch.isnan(pts[0, 3]).all() and torch.isfinite(pts[0, :3]).all()
    with pytest.raises(ValueError, match="66, 2"):
        jaa_points(lm[:, :49])


def test_eye_centres_and_au_centres_follow_jaa_nets_table():
    lm = _face66()
    pts = jaa_points(lm)[0]
    left, right = eye_centres(pts[None])
    assert torch.allclose(left[0], lm[0, 36:42].mean(0)) and torch.allclose(right[0], lm[0, 42:48].mean(0))
    ruler = 24.0
    centres = au_centres(pts[None], BP4D_AUS + (9, 25, 26))[0]
    # (66-point pair, shift in rulers), written from the paper's table in auzoo's scheme
    expected = {1: ((21, 22), -1 / 2), 2: ((18, 25), -1 / 3), 4: ((19, 24), 1 / 3),
                6: ((41, 46), 1), 7: ((38, 43), 0), 10: ((60, 62), 0), 12: ((48, 54), 0),
                14: ((48, 54), 0), 15: ((48, 54), 0), 17: ((56, 58), 1 / 2), 23: ((51, 57), 0),
                24: ((51, 57), 0), 9: ((32, 34), -1 / 2), 25: ((51, 57), 0), 26: ((56, 58), 1 / 2)}
    for a, au in enumerate(BP4D_AUS + (9, 25, 26)):
        (i, j), shift = expected[au]
        want = torch.stack([lm[0, i], lm[0, j]]) + torch.tensor([0.0, shift * ruler])
        assert torch.allclose(centres[a], want), f"AU{au}"
    assert set(AU_CENTRE_RULES) == set(expected)
    with pytest.raises(ValueError, match="no attention centre for AU \\[5\\]"):
        au_centres(pts[None], (1, 5))


def _reference_map(centres, image_size, size, ratio=0.14, fill=0.56):
    """The authors' map filling, cell by cell, for one AU (centres inside the map)."""
    scale = size / image_size
    half = round((size - 1) / 2.0 * ratio)
    out = torch.zeros(size, size)
    for cx, cy in centres:
        x, y = round(cx * scale), round(cy * scale)
        for h in range(max(y - half, 0), min(y + half, size - 1) + 1):
            for w in range(max(x - half, 0), min(x + half, size - 1) + 1):
                out[h, w] = max(1 - (abs(h - y) + abs(w - x)) * fill / (size * ratio), out[h, w])
    return out


def test_initial_map_by_hand_at_jaa_nets_size():
    # 176 px input, 52-cell map: centre (88, 88) px -> cell (26, 26); the square is 9 x 9
    centres = torch.tensor([[[[88.0, 88.0], [30.0, 150.0]]]])  # (1, 1, 2, 2)
    m = initial_attention(centres, image_size=176, map_size=52)[0, 0]
    step = 0.56 / (52 * 0.14)  # 1/13 per cell
    assert m[26, 26] == pytest.approx(1.0)
    assert m[26, 27] == pytest.approx(1 - step) and m[25, 26] == pytest.approx(1 - step)
    assert m[30, 30] == pytest.approx(1 - 8 * step)  # the square's corner, 0.385
    assert m[31, 26] == 0 and m[26, 21] == 0  # outside the square
    # second centre: (30, 150) px -> cell (round(8.86), round(44.3)) = (9, 44)
    assert m[44, 9] == pytest.approx(1.0) and m[44, 13] == pytest.approx(1 - 4 * step)
    assert int((m > 0).sum()) == 2 * 81


def test_initial_maps_match_the_authors_filling_and_merge_by_max():
    g = torch.Generator().manual_seed(1)
    centres = torch.rand(3, 4, 2, 2, generator=g) * 150 + 13
    centres[0, 0, 1] = centres[0, 0, 0] + 9  # overlapping squares: max, not sum
    maps = initial_attention(centres, 176, 52)
    for n in range(3):
        for a in range(4):
            ref = _reference_map(centres[n, a].tolist(), 176, 52)
            assert torch.allclose(maps[n, a], ref, atol=1e-6), (n, a)
    assert maps.max() <= 1.0


def test_small_input_map_and_missing_centre():
    # 64 px input, 24-cell map (16 + 8): half-width round(11.5 * 0.14) = 2, step 1/6
    centres = torch.tensor([[[[32.0, 32.0], [float("nan"), 5.0]]]])
    m = initial_attention(centres, 64, 24)[0, 0]
    assert torch.isfinite(m).all()
    assert m[12, 12] == pytest.approx(1.0) and m[14, 14] == pytest.approx(1 - 4 / 6)
    assert m[15, 12] == 0
    assert int((m > 0).sum()) == 25  # only the finite centre's 5 x 5 square
    assert math.isclose(float(m.sum()), float(_reference_map([(32.0, 32.0)], 64, 24).sum()), rel_tol=1e-6)
