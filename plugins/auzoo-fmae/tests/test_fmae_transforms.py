"""FMAE's face box and timm's augmentations on auzoo's uint8 images and landmarks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from timm.data import IMAGENET_DEFAULT_MEAN

from auzoo.registry import TRANSFORMS, build_part
from auzoo_fmae.transforms import (FaceBoxCrop, TimmRandAugment, TimmRandomErasing,
                                   TimmRandomResizedCrop)


def _face(size=160, seed=0):
    """A random image with landmarks spread over a face-sized region, and the
    landmarks' pixels painted so that they can be found again after a warp."""
    rng = np.random.default_rng(seed)
    img = rng.integers(40, 200, (size, size, 3), dtype=np.uint8)
    pts = np.stack([rng.uniform(45, 115, 66), rng.uniform(35, 125, 66)], axis=1).astype(np.float32)
    return img, pts


def test_face_box_is_the_landmark_box_enlarged_5_percent_each_side():
    img, pts = _face()
    pts[:2] = [[40.0, 30.0], [119.0, 129.0]]  # the box: x 40..119, y 30..129 (pixel centres)
    pts[5] = np.nan  # unknown points are left out of the box
    step = build_part(TRANSFORMS, dict(type="FaceBoxCrop", size=224, enlarge=0.05))
    assert isinstance(step, FaceBoxCrop)
    x0, y0, x1, y1 = step.box(pts)
    assert (x0, x1) == pytest.approx((39.5 - 4.0, 119.5 + 4.0))   # 80 px wide: 4 px a side
    assert (y0, y1) == pytest.approx((29.5 - 5.0, 129.5 + 5.0))   # 100 px high: 5 px a side
    out = step(dict(img=img.copy(), landmarks=pts.copy()))
    assert out["img"].shape == (224, 224, 3) and out["img"].dtype == np.uint8
    lm = out["landmarks"]
    assert np.isnan(lm[5]).all()
    # the box's extreme points land 5 % / 110 % of the way in: 224 * 4.5 / 88 from the edge
    assert lm[0] == pytest.approx([224 * 4.5 / 88 - 0.5, 224 * 5.5 / 110 - 0.5], abs=1e-3)
    assert lm[1] == pytest.approx([224 * (1 - 4.5 / 88) - 0.5, 224 * (1 - 5.5 / 110) - 0.5], abs=1e-3)
    # a pixel of the source lands where the transform says its landmark went
    src = np.zeros((160, 160, 3), np.uint8)
    src[70, 90] = 255
    p = np.vstack([pts[:2], [[90.0, 70.0]]])
    out = step(dict(img=src, landmarks=p))
    y, x = np.unravel_index(out["img"][..., 0].argmax(), (224, 224))
    assert abs(x - out["landmarks"][2, 0]) <= 1.5 and abs(y - out["landmarks"][2, 1]) <= 1.5


def test_face_box_beyond_the_image_is_black_and_no_landmarks_is_an_error():
    img = np.full((100, 100, 3), 255, np.uint8)
    pts = np.array([[0.0, 0.0], [99.0, 99.0]], np.float32)
    out = FaceBoxCrop(size=110, enlarge=0.05)(dict(img=img, landmarks=pts))
    assert out["img"][:3].max() == 0 and out["img"][-3:].max() == 0  # 5 px of black a side
    assert out["img"][50, 50].min() == 255
    with pytest.raises(ValueError, match="no finite landmarks"):
        FaceBoxCrop()(dict(img=img, landmarks=np.full((66, 2), np.nan, np.float32)))


def test_random_resized_crop_moves_landmarks_with_the_crop():
    step = TimmRandomResizedCrop(size=96, scale=(0.3, 0.6))
    inside = 0
    for seed in range(8):
        img = np.zeros((160, 160, 3), np.uint8)
        img[70:73, 88:91] = 255  # a 3x3 dot around (89, 71)
        pts = np.array([[89.0, 71.0], [40.0, 40.0]], np.float32)
        out = step(dict(img=img, landmarks=pts, rng=np.random.default_rng(seed)))
        assert out["img"].shape == (96, 96, 3)
        x, y = out["landmarks"][0]
        if 2 <= x <= 93 and 2 <= y <= 93:
            inside += 1
            assert out["img"][int(round(y)), int(round(x))].max() > 100
        elif not (-2 <= x <= 97 and -2 <= y <= 97):  # cropped away
            assert out["img"].max() < 100
    assert inside >= 2
    pts = _face()[1]
    a = step(dict(img=_face()[0], landmarks=pts, rng=np.random.default_rng(3)))
    b = step(dict(img=_face()[0], landmarks=pts, rng=np.random.default_rng(3)))
    assert np.array_equal(a["img"], b["img"])  # a seeded pipeline repeats


def test_rand_augment_is_timms_and_forgets_landmarks_it_may_have_moved():
    step = TimmRandAugment("rand-m9-mstd0.5-inc1", img_size=224)
    names = {op.name for op in step.augment.ops}
    assert "Rotate" in names and "SolarizeIncreasing" in names and len(step.augment.ops) == 15
    assert step.augment.num_layers == 2
    assert step.augment.ops[0].hparams["img_mean"] == tuple(round(255 * m) for m in IMAGENET_DEFAULT_MEAN)
    moved = kept = 0
    for seed in range(30):
        img, pts = _face(seed=seed)
        out = step(dict(img=img, landmarks=pts, rng=np.random.default_rng(seed)))
        assert out["img"].shape == img.shape and out["img"].dtype == np.uint8
        if np.isnan(out["landmarks"]).all():
            moved += 1
        else:
            assert np.array_equal(out["landmarks"], pts)
            kept += 1
    assert moved and kept


def test_random_erasing_writes_normal_noise_back_as_uint8():
    img, pts = _face(size=64)
    step = TimmRandomErasing(prob=1.0, mode="pixel")
    out = step(dict(img=img.copy(), landmarks=pts, rng=np.random.default_rng(0)))
    changed = (out["img"] != img).any(axis=2)
    rows, cols = np.nonzero(changed)
    assert changed.sum() > 0.9 * (np.ptp(rows) + 1) * (np.ptp(cols) + 1)  # one filled box
    assert np.array_equal(out["img"][~changed], img[~changed])  # the rest unchanged
    assert np.array_equal(out["landmarks"], pts)
    none = TimmRandomErasing(prob=0.0)(dict(img=img.copy(), landmarks=pts))
    assert np.array_equal(none["img"], img)  # lossless round trip
    # the noise is N(0, 1) in normalised units: mean/std of the fill as timm's
    step = TimmRandomErasing(prob=1.0, mode="pixel")
    big = np.zeros((256, 256, 3), np.uint8)
    fills = []
    for seed in range(10):
        e = step(dict(img=big.copy(), landmarks=pts, rng=np.random.default_rng(seed)))["img"]
        fills.append(e[e.any(axis=2)][:, 0].astype(float) / 255)
    red = np.concatenate(fills)
    assert red.mean() == pytest.approx(0.485, abs=0.03)  # ImageNet red mean ...
    assert torch.tensor(red).std().item() == pytest.approx(0.229, abs=0.03)  # ... and std
