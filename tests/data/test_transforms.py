"""Each recipe's geometry, from the cache's loose crop as from the source frame."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from auzoo.data.align import (eye_box_matrix, five_points, landmarks68_to_66, loose_crop,
                              similarity_matrix, transform_points)
from auzoo.data.mean_face import MEAN_FACE_68
from auzoo.data.transforms import build_pipeline

JAANET_TEST = [dict(type="AlignEyeBox", size=200, enlarge=2.9, border=128),
               dict(type="CenterCrop", size=176)]
JAANET_TRAIN = [dict(type="AlignEyeBox", size=200, enlarge=2.9, border=128),
                dict(type="RandomCrop", size=176), dict(type="RandomFlip", prob=0.5)]
MEGRAPH_TEST = [dict(type="AlignFivePoint", size=256), dict(type="CenterCrop", size=224)]
MEGRAPH_TRAIN = [dict(type="AlignFivePoint", size=256), dict(type="RandomCrop", size=224),
                 dict(type="RandomFlip", prob=0.5),
                 dict(type="ColorJitter", brightness=0.4, contrast=0.4, saturation=0.4)]


def face(roll_deg=12.0, scale=260.0, centre=(500.0, 380.0)):
    """A mean face rolled by ``roll_deg`` in a 1024 x 768 frame (DISFA's size)."""
    pts = landmarks68_to_66(MEAN_FACE_68) - 0.5
    t = np.deg2rad(roll_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return (pts @ rot.T) * scale + np.asarray(centre)


def smooth_frame(h=768, w=1024, seed=0):
    """Smooth random texture: resampling it twice or once differs by rounding only."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 32, w // 32, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("steps", [
    [dict(type="AlignMidline", size=224)], JAANET_TEST, MEGRAPH_TEST,
])
def test_a_recipe_from_the_loose_crop_is_the_recipe_from_the_frame(steps):
    frame, points = smooth_frame(), face()
    crop, m = loose_crop(frame, points)
    pipeline = build_pipeline(steps)
    direct = pipeline(frame, points)
    cached = pipeline(crop, transform_points(points, m))
    # same geometry: the landmarks land on the same output pixels
    np.testing.assert_allclose(cached["landmarks"], direct["landmarks"], atol=1e-3)
    # same pixels up to the second resampling of a smooth image
    diff = np.abs(cached["img"].astype(int) - direct["img"].astype(int))
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 4


def test_beyond_the_frame_the_recipe_puts_its_own_border():
    """A face at the frame's corner: JAA-Net's window leaves the frame; grey, as officially."""
    frame, points = smooth_frame(), face(roll_deg=0, scale=260, centre=(90.0, 110.0))
    crop, m = loose_crop(frame, points)
    h, w = frame.shape[:2]
    box = tuple(transform_points(np.array([[-0.5, -0.5], [w - 0.5, h - 0.5]]), m).reshape(-1))
    pipeline = build_pipeline([dict(type="AlignEyeBox", size=200, border=128)])
    direct = pipeline(frame, points)["img"]
    cached = pipeline(crop, transform_points(points, m), valid=box)["img"]
    outside = (direct == 128).all(-1)
    assert outside[:10, :10].all()                     # the top-left corner is beyond the frame
    assert (cached[:10, :10] == 128).all()
    without_box = pipeline(crop, transform_points(points, m))["img"]
    assert (without_box[:10, :10] == 0).all()          # the crop's own black, had it no box


def test_jaanet_test_view_is_its_published_geometry():
    points = face(roll_deg=15)
    out = build_pipeline(JAANET_TEST)(smooth_frame(), points)
    assert out["img"].shape == (176, 176, 3)
    p = five_points(out["landmarks"])
    # eye line level
    assert abs(p[1, 1] - p[0, 1]) < 1e-3
    # the 5-point box: its longer side (199 / 2.9 px) centred in the 176 crop
    lo, hi = p.min(0), p.max(0)
    assert max(hi - lo) == pytest.approx(199 / 2.9, abs=1e-3)
    np.testing.assert_allclose((lo + hi) / 2, [87.5, 87.5], atol=1e-3)
    # the warp is JAA-Net's matrix followed by the centre crop (offset 12)
    m = eye_box_matrix(points, 200, 2.9)
    np.testing.assert_allclose(out["landmarks"], transform_points(points, m) - 12, atol=1e-3)


def test_megraphau_test_view_is_the_centre_224_of_the_256_face():
    frame, points = smooth_frame(), face()
    full = build_pipeline([dict(type="AlignFivePoint", size=256)])(frame, points)
    centre = build_pipeline(MEGRAPH_TEST)(frame, points)
    assert full["img"].shape == (256, 256, 3) and centre["img"].shape == (224, 224, 3)
    assert np.abs(centre["img"].astype(int) - full["img"][16:240, 16:240]).max() <= 1
    np.testing.assert_allclose(centre["landmarks"], full["landmarks"] - 16, atol=1e-4)
    # the five points sit on insightface's template (x 2 for 256 px, shifted 16 right)
    p = five_points(full["landmarks"])
    assert np.abs(p[:, 1][:2] - 103.3).max() < 6 and p[0, 0] < p[1, 0]


def test_train_views_jitter_within_the_recipe():
    frame, points = smooth_frame(), face()
    pipeline = build_pipeline(JAANET_TRAIN)
    rng = np.random.default_rng(0)
    views = [pipeline(frame, points, rng=rng) for _ in range(40)]
    offsets = np.array([v["steps"][1]["offset"] for v in views])
    assert offsets.min() >= 0 and offsets.max() <= 24 and len(np.unique(offsets, axis=0)) > 20
    flips = [v["flipped"] for v in views]
    assert 5 < sum(flips) < 35
    centre = build_pipeline(JAANET_TEST)(frame, points)
    # a flipped view: the subject's right eye (36-41) is now on the image right
    for v in views:
        p = five_points(v["landmarks"])
        assert p[0, 0] < p[1, 0]                # eye centre order follows the image
    unflipped = next(v for v in views if not v["flipped"])
    top, left = unflipped["steps"][1]["offset"]
    np.testing.assert_allclose(unflipped["landmarks"],
                               centre["landmarks"] + 12 - np.array([left, top]), atol=1e-3)


def test_colour_jitter_draws_torchvision_factors():
    img = smooth_frame(64, 64)
    steps = [dict(type="ColorJitter", brightness=0.4, contrast=0.4, saturation=0.4)]
    p = build_pipeline([dict(type="AlignMidline", size=64)] + steps)
    rng = np.random.default_rng(1)
    pts = face(scale=40, centre=(32.0, 30.0))
    drawn = [p(img, pts, rng=rng)["steps"][1] for _ in range(200)]
    for key in ("brightness_factor", "contrast_factor", "saturation_factor"):
        values = np.array([d[key] for d in drawn])
        assert 0.6 <= values.min() < 0.7 and 1.3 < values.max() <= 1.4
    assert len({tuple(d["order"]) for d in drawn}) > 10
    # brightness alone scales the pixels
    from auzoo.data.transforms import ColorJitter
    results = dict(img=img.copy(), rng=np.random.default_rng(0), steps=[], matrix=np.eye(3),
                   size=img.shape[:2], landmarks=np.zeros((66, 2)), border=0, valid=None,
                   blank=False)
    out = ColorJitter(brightness=0.5)(results)
    b = out["steps"][0]["brightness_factor"]
    assert np.abs(out["img"].astype(float) - np.clip(img * b, 0, 255)).max() <= 1


def test_a_small_model_input_is_area_averaged_not_aliased():
    rng = np.random.default_rng(0)
    stripes = np.zeros((768, 1024, 3), np.uint8)
    stripes[:, ::2] = 255                      # the finest pattern there is
    points = face()
    out = build_pipeline([dict(type="AlignMidline", size=224)], img_size=32)(stripes, points)
    assert out["img"].shape == (32, 32, 3)
    inside = out["img"][8:24, 8:24].astype(float)
    assert abs(inside.mean() - 127.5) < 20 and inside.std() < 20   # grey, not moire
    pts = build_pipeline([dict(type="AlignMidline", size=224)])(stripes, points)["landmarks"]
    np.testing.assert_allclose(out["landmarks"], (pts + 0.5) * 32 / 224 - 0.5, atol=1e-3)
    del rng


def test_unusable_landmarks_give_an_empty_face_and_no_points():
    out = build_pipeline(MEGRAPH_TEST)(smooth_frame(), np.full((66, 2), np.nan))
    assert out["img"].shape == (224, 224, 3) and not out["img"].any()
    assert np.isnan(out["landmarks"]).all()


def test_pipeline_steps_are_registered_and_errors_are_clear():
    from auzoo.registry import TRANSFORMS
    for name in ("AlignMidline", "AlignEyeBox", "AlignFivePoint", "RandomCrop", "CenterCrop",
                 "RandomFlip", "ColorJitter", "Resize"):
        assert TRANSFORMS.get(name) is not None
    with pytest.raises(KeyError, match="unknown transform 'Flip'.*RandomFlip"):
        build_pipeline([dict(type="Flip")])
    with pytest.raises(ValueError, match="larger than the 200x200"):
        build_pipeline([dict(type="AlignEyeBox", size=200), dict(type="CenterCrop", size=224)])(
            smooth_frame(), face())
    p = build_pipeline(MEGRAPH_TEST, img_size=112)
    assert p.describe()[-1] == dict(type="Resize", size=112)
    assert p.describe()[0] == dict(type="AlignFivePoint", size=256, border=0)


def test_the_midline_alignment_is_tranets():
    frame, points = smooth_frame(), face()
    out = build_pipeline([dict(type="AlignMidline", size=224)])(frame, points)
    np.testing.assert_allclose(out["landmarks"],
                               transform_points(points, similarity_matrix(points, 224)), atol=1e-3)
