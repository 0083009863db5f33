"""dlib faces without a download: detector, landmarks, tracker."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from auzoo.vision.faces import FaceDetector, LandmarkPredictor, find_faces, iou, model_file
from auzoo.vision.tracking import FaceTracker

from .conftest import shifted


@pytest.fixture(scope="module")
def grace(photos):
    return cv2.cvtColor(cv2.imread(str(photos["grace_hopper"])), cv2.COLOR_BGR2RGB)


def test_model_files_found_without_importing_the_package():
    code = ("import sys; from auzoo.vision.faces import model_file; "
            "p = model_file('shape_predictor_68_face_landmarks.dat'); "
            "assert p.stat().st_size > 50e6, p; "
            "assert 'face_recognition_models' not in sys.modules; print(p)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert model_file("mmod_human_face_detector.dat").is_file()
    with pytest.raises(FileNotFoundError, match="no_such_model.dat"):
        model_file("no_such_model.dat")


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 0, 10, 10)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_landmarks_of_a_real_face(grace):
    (face,) = find_faces(grace)
    x, y, w, h = face.box
    pts = face.landmarks
    assert pts.shape == (68, 2) and pts.dtype == np.float32
    # nose root above nose tip above chin; eyes either side of the nose
    assert pts[27, 1] < pts[30, 1] < pts[8, 1]
    assert pts[36, 0] < pts[30, 0] < pts[45, 0]
    inner = pts[17:48]  # brows, nose, eyes lie inside the detector's box
    assert ((inner[:, 0] > x) & (inner[:, 0] < x + w) & (inner[:, 1] > y) & (inner[:, 1] < y + h)).all()


def test_detection_on_a_downscaled_frame_is_scaled_back(grace):
    big = cv2.resize(grace, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)  # 1024 x 1200
    (full,) = FaceDetector(max_side=None)(grace)
    (small,) = FaceDetector(max_side=600)(big)  # detected at half size, reported at full
    np.testing.assert_allclose(np.array(small[0]) / 2, full[0], rtol=0.1, atol=8)
    # too small to find once downscaled: the documented limit of the downscale
    tiny = cv2.resize(grace, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    assert FaceDetector(max_side=None)(tiny) and not FaceDetector(max_side=80)(tiny)


def test_tracker_detects_on_schedule_and_keeps_ids(grace):
    calls = []
    detector = FaceDetector()
    counting = lambda image: calls.append(1) or detector(image)  # noqa: E731
    tracker = FaceTracker(counting, LandmarkPredictor(), detect_every=3)
    blank = np.full_like(grace, 90)
    frames = [shifted(grace, 4 * i, 0) for i in range(3)] + [blank] * 3 + \
             [shifted(grace, 4 * i, 0) for i in range(3)]
    ids, centres = [], []
    for frame in frames:
        faces = tracker(frame)
        ids.append([f.face_id for f in faces])
        centres.append(faces[0].landmarks[17:48].mean(0) if faces else None)
    assert len(calls) == 3 and tracker.detections == 3  # frames 0, 3, 6
    # frames 4 and 5 know no face (it left at the detection on frame 3); the face that
    # comes back is a new one as far as the tracker can tell
    assert ids == [[0], [0], [0], [], [], [], [1], [1], [1]]
    # between detections the landmarks follow the face: 4 px right per frame
    moved = np.array(centres[:3]) - centres[0]
    np.testing.assert_allclose(moved, [[0, 0], [4, 0], [8, 0]], atol=2)
    tracker.reset()
    assert [f.face_id for f in tracker(frames[0])] == [0]
