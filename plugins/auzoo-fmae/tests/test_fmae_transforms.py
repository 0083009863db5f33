"""FMAE's face box and timm's augmentations as auzoo pipeline steps: uint8
images, landmarks that follow (or are marked unknown), seeded repeats."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from timm.data import IMAGENET_DEFAULT_MEAN

from auzoo.config import load_config
from auzoo.data.transforms import build_pipeline, config_pipeline
from auzoo_fmae.transforms import GEOMETRIC_OPS, FaceBoxCrop


def _face(size=160, seed=0):
    """A random image and landmarks spread over a face-sized region inside it."""
    rng = np.random.default_rng(seed)
    img = rng.integers(40, 200, (size, size, 3), dtype=np.uint8)
    pts = np.stack([rng.uniform(45, 115, 66), rng.uniform(35, 125, 66)], axis=1)
    return img, pts


def test_face_box_is_the_landmark_box_enlarged_5_percent_each_side():
    img, pts = _face()
    pts[:2] = [[40.0, 30.0], [119.0, 129.0]]  # the box: x 40..119, y 30..129 (pixel centres)
    pts[5] = np.nan  # an unknown point is left out of the box
    assert FaceBoxCrop().box(pts) == pytest.approx((39.5 - 4.0, 29.5 - 5.0, 119.5 + 4.0, 129.5 + 5.0))
    pipeline = build_pipeline([dict(type="FaceBoxCrop", size=224, enlarge=0.05)], 224)
    out = pipeline(img, pts)
    assert out["img"].shape == (224, 224, 3) and out["img"].dtype == np.uint8
    lm = out["landmarks"]
    assert np.isnan(lm[5]).all()
    # 88 x 110 px box: the extreme points sit 4.5 / 88 and 5.5 / 110 of the way in
    assert lm[0] == pytest.approx([224 * 4.5 / 88 - 0.5, 224 * 5.5 / 110 - 0.5], abs=1e-3)
    assert lm[1] == pytest.approx([224 * (1 - 4.5 / 88) - 0.5, 224 * (1 - 5.5 / 110) - 0.5], abs=1e-3)
    assert out["steps"][0] == dict(type="FaceBoxCrop", size=224, enlarge=0.05)
    # a pixel of the source lands where its landmark went
    src = np.zeros((160, 160, 3), np.uint8)
    src[69:72, 89:92] = 255
    out = pipeline(src, np.vstack([pts[:2], [[90.0, 70.0]]]))
    weight = out["img"][..., 0].astype(float)
    ys, xs = np.mgrid[:224, :224]
    centre = [(xs * weight).sum() / weight.sum(), (ys * weight).sum() / weight.sum()]
    assert centre == pytest.approx(out["landmarks"][2].tolist(), abs=0.3)


def test_face_box_beyond_the_frame_is_black_and_no_landmarks_give_an_empty_face():
    img = np.full((100, 100, 3), 255, np.uint8)
    out = build_pipeline([dict(type="FaceBoxCrop", size=110)])(img, np.array([[0.0, 0.0], [99.0, 99.0]]))
    assert out["img"][:4].max() == 0 and out["img"][:, -4:].max() == 0  # 5 px of black a side
    assert out["img"][50, 50].min() == 255
    empty = build_pipeline([dict(type="FaceBoxCrop", size=64)])(img, None)
    assert empty["img"].shape == (64, 64, 3) and empty["img"].max() == 0
    assert np.isnan(empty["landmarks"]).all()


def test_random_resized_crop_moves_landmarks_with_the_crop():
    pipeline = build_pipeline([dict(type="TimmRandomResizedCrop", size=96, scale=(0.3, 0.6))])
    img = np.zeros((160, 160, 3), np.uint8)
    img[70:73, 88:91] = 255  # a 3x3 dot around (89, 71)
    pts = np.array([[89.0, 71.0], [40.0, 40.0]])
    inside = 0
    for seed in range(8):
        out = pipeline(img, pts, rng=np.random.default_rng(seed))
        assert out["img"].shape == (96, 96, 3)
        top, left, h, w = out["steps"][0]["box"]
        assert 0.3 * 160 ** 2 * 0.99 <= h * w <= 0.6 * 160 ** 2 * 1.01  # timm's draw
        x, y = out["landmarks"][0]
        assert x == pytest.approx((89 - left + 0.5) * 96 / w - 0.5)
        if 2 <= x <= 93 and 2 <= y <= 93:
            inside += 1
            assert out["img"][int(round(y)), int(round(x))].max() > 100
    assert inside >= 2
    a = pipeline(_face()[0], pts, rng=np.random.default_rng(3))
    b = pipeline(_face()[0], pts, rng=np.random.default_rng(3))
    assert np.array_equal(a["img"], b["img"]) and a["steps"] == b["steps"]  # seeded: repeats


def test_rand_augment_is_timms_and_forgets_landmarks_it_may_have_moved():
    pipeline = build_pipeline([dict(type="TimmRandAugment", config="rand-m9-mstd0.5-inc1")])
    augment = pipeline.steps[0].augment
    names = {op.name for op in augment.ops}
    assert "Rotate" in names and "SolarizeIncreasing" in names and len(augment.ops) == 15
    assert augment.num_layers == 2 and augment.ops[0].hparams["translate_const"] == 100
    assert augment.ops[0].hparams["img_mean"] == tuple(round(255 * m) for m in IMAGENET_DEFAULT_MEAN)
    moved = kept = changed = 0
    for seed in range(30):
        img, pts = _face(seed=seed)
        out = pipeline(img, pts, rng=np.random.default_rng(seed))
        assert out["img"].shape == img.shape and out["img"].dtype == np.uint8
        changed += not np.array_equal(out["img"], img)
        ops = out["steps"][0]["ops"]
        if any(op in GEOMETRIC_OPS for op in ops):
            assert np.isnan(out["landmarks"]).all()
            moved += 1
        else:
            np.testing.assert_allclose(out["landmarks"], pts, atol=1e-4)
            kept += 1
    assert moved and kept and changed > 15


def test_random_erasing_writes_normal_noise_back_as_uint8():
    img, pts = _face(size=64)
    pipeline = build_pipeline([dict(type="TimmRandomErasing", prob=1.0, mode="pixel")])
    out = pipeline(img, pts, rng=np.random.default_rng(0))
    changed = (out["img"] != img).any(axis=2)
    rows, cols = np.nonzero(changed)
    assert changed.sum() > 0.9 * (np.ptp(rows) + 1) * (np.ptp(cols) + 1)  # one filled box
    assert np.array_equal(out["img"][~changed], img[~changed])  # the rest unchanged
    assert out["steps"][0]["erased"] is True
    np.testing.assert_allclose(out["landmarks"], pts, atol=1e-4)
    none = build_pipeline([dict(type="TimmRandomErasing", prob=0.0)])(img, pts)
    assert np.array_equal(none["img"], img)  # a lossless round trip
    # the fill is N(0, 1) in normalised units: ImageNet's red mean and std in pixels
    big = np.zeros((256, 256, 3), np.uint8)
    fills = []
    for seed in range(10):
        e = pipeline(big, None, rng=np.random.default_rng(seed))["img"]
        fills.append(e[e.any(axis=2)][:, 0].astype(float) / 255)
    red = np.concatenate(fills)
    assert red.mean() == pytest.approx(0.485, abs=0.03)
    assert torch.tensor(red).std().item() == pytest.approx(0.229, abs=0.03)


def test_the_configs_pipelines_make_224_px_faces():
    cfg = load_config("fmae_iat_vitb")
    img, pts = _face(size=320)
    train = config_pipeline(cfg, "train")(img, pts, rng=np.random.default_rng(0))
    assert train["img"].shape == (224, 224, 3)
    assert [s["type"] for s in train["steps"]] == [
        "FaceBoxCrop", "TimmRandomResizedCrop", "RandomFlip", "TimmRandAugment",
        "TimmRandomErasing", "Resize"]
    test = config_pipeline(cfg, "test")
    a, b = test(img, pts), test(img, pts)
    assert np.array_equal(a["img"], b["img"]) and not test.random
    assert config_pipeline(cfg, "test", img_size=64)(img, pts)["img"].shape == (64, 64, 3)


def test_posterize_to_no_bits_gives_black_as_the_official_pillow_did():
    from timm.data.auto_augment import AugmentOp

    from auzoo_fmae.transforms import _apply

    op = AugmentOp("PosterizeIncreasing", prob=1.0, magnitude=10)  # 4 - 4 = 0 bits kept
    img = Image.fromarray(_face(size=32)[0])
    assert np.asarray(_apply(op, img)).max() == 0
    one_bit = AugmentOp("PosterizeIncreasing", prob=1.0, magnitude=8)  # 4 - 3 = 1 bit kept
    assert set(np.unique(np.asarray(_apply(one_bit, img)))) <= {0, 128}
