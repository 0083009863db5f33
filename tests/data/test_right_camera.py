"""prepare --camera right: faces found by dlib on each right-camera frame.

The synthetic right camera is the left frame at half size, mirrored, so the
true landmarks of every right-camera frame are known: each aligned frame is
checked against them, not against the detector's own points.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from auzoo.cli import main
from auzoo.data import open_cache
from auzoo.data.align import FLIP_PERMUTATION_66, loose_crop, transform_points
from auzoo.data.datasets.disfa.reader import DisfaRoot, iter_video
from auzoo.data.datasets.disfa.synth import FPS, subject_truth, synth_disfa

# Faces of ~100 px in the 320 x 240 right camera: big enough for the HOG
# detector without upsampling, as DISFA's are.
FRAMES, WIDTH, HEIGHT, SEED, SIZE = 48, 640, 480, 5, 112
SUBJECTS = ("SN001", "SN002")
BLANK = {"SN001": (20, 21)}   # frames made blank in the right-camera video


def right_camera_truth(subject: str) -> np.ndarray:
    """(n, 66, 2) true landmarks in the right camera's pixels.

    Right pixel (x, y) shows left pixel (2 rw - 1 - 2x, 2y) (synth's half-size
    mirror), and mirroring swaps the face's sides (FLIP_PERMUTATION_66).
    """
    left = subject_truth(subject, FRAMES, SEED, WIDTH, HEIGHT)["landmarks"]
    rw = WIDTH // 2 // 2 * 2
    right = np.stack([(2 * rw - 1 - left[..., 0]) / 2, left[..., 1] / 2], axis=-1)
    return right[:, FLIP_PERMUTATION_66]


def _blank_frames(video, frames) -> None:
    images = list(iter_video(video, rgb=False))
    h, w = images[0].shape[:2]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (w, h))
    for k, img in enumerate(images):
        writer.write(np.full_like(img, 128) if k in frames else img)
    writer.release()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = synth_disfa(tmp_path_factory.mktemp("disfa_rc"), subjects=len(SUBJECTS), frames=FRAMES,
                       seed=SEED, width=WIDTH, height=HEIGHT, workers=1)
    data = DisfaRoot(root, "right")
    for s, frames in BLANK.items():
        _blank_frames(data[s].video, frames)
    return root


@pytest.fixture(scope="module")
def right_dir(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache_rc") / "right"
    assert main(["prepare", "disfa", str(root), "--out", str(out), "--camera", "right",
                 "--workers", "2", "--size", str(SIZE)]) == 0
    return out


@pytest.fixture(scope="module")
def right(right_dir):
    return open_cache(right_dir)


def _blank_mask(subject: str, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[list(BLANK.get(subject, ()))] = True
    return mask


def test_every_frame_aligned_on_the_true_nose(right):
    """The detector finds every drawn face (a frame after a blank one too) and
    the true nose midpoint lands at the centre of each aligned face."""
    centre = (SIZE - 1) / 2
    for s in SUBJECTS:
        sub = right.index[right.index.subject == s]
        np.testing.assert_array_equal(sub.aligned, ~_blank_mask(s, FRAMES), err_msg=s)
        ok = sub.aligned.to_numpy()
        m = right.matrices(s).astype(np.float64)
        truth = right_camera_truth(s)[:FRAMES]
        aligned_truth = np.stack([transform_points(truth[k], m[k]) for k in np.flatnonzero(ok)])
        nose = (aligned_truth[:, 27] + aligned_truth[:, 30]) / 2
        assert np.abs(nose - centre).max() < 3.0, (s, np.abs(nose - centre).max())
        # the whole face, not only the nose, is where the detected points say
        err = np.linalg.norm(aligned_truth - right.landmarks(s)[ok], axis=-1)
        assert np.median(err) < 3.0, (s, np.median(err))
        # detected source points are in the right camera's pixels
        assert np.nanmax(right.source_landmarks(s)[ok][..., 0]) < WIDTH // 2


def test_index_rows_labels_and_flags(root, right):
    idx = right.index
    assert right.subjects == list(SUBJECTS) and right.size == SIZE
    for s in SUBJECTS:
        sub = idx[idx.subject == s]
        np.testing.assert_array_equal(sub.frame, np.arange(FRAMES))
        labels = sub[[c for c in idx.columns if c.startswith("au")]].to_numpy()
        np.testing.assert_array_equal(labels, subject_truth(s, FRAMES, SEED, WIDTH, HEIGHT)["labels"])
        blank = _blank_mask(s, FRAMES)
        np.testing.assert_array_equal(sub.landmarks_missing, blank)
        np.testing.assert_array_equal(sub.bad_landmarks, blank)
        assert not sub.error_log.any()   # the Error_LOG is about left-camera annotations
    # SN002 lacks a left-camera landmark file (frame 16): irrelevant to the right camera
    assert idx[(idx.subject == "SN002") & (idx.frame == FRAMES // 3)].aligned.all()


def test_frames_without_a_face_are_black_flagged_and_counted(right):
    for s, frames in BLANK.items():
        for k in frames:
            assert not right.frames(s)[k].any()
            assert np.isnan(right.landmarks(s)[k]).all() and np.isnan(right.matrices(s)[k]).all()
            assert np.isnan(right.source_landmarks(s)[k]).all()
        assert right.meta["subjects"][s]["landmarks_missing"] == len(frames)
        assert right.meta["subjects"][s]["bad_landmark_frames"] == len(frames)
    assert right.meta["totals"]["landmarks_missing"] == sum(map(len, BLANK.values()))
    assert right.meta["totals"]["error_log_frames"] == 0


def test_rows_are_the_decoded_frames_in_rgb(root, right):
    """Row k is decoded right-camera frame k, cropped around its own detected points."""
    files = DisfaRoot(root, "right")["SN002"]
    for k, rgb in enumerate(files.frames(limit=4)):
        face, _ = loose_crop(rgb, right.source_landmarks("SN002")[k], SIZE)
        np.testing.assert_array_equal(right.frames("SN002")[k], face)


def test_meta_records_camera_and_landmark_source(root, right, tmp_path):
    meta = right.meta
    assert meta["camera"] == "right" and meta["landmark_source"] == "dlib-68"
    assert meta["error_log_applied"] is False
    record = meta["subjects"]["SN001"]
    assert record["landmark_source"] == "dlib-68" and record["landmark_files"] == 0
    assert record["face_detector"]["detect_every"] >= 1
    # tracking between detections: the detector ran on far fewer frames than decoded
    assert 0 < record["detector_runs"] < FRAMES / 2
    # the left camera of the same root: annotated landmarks, same labels frame by frame
    left_dir = tmp_path / "left"
    assert main(["prepare", "disfa", str(root), "--out", str(left_dir), "--size", str(SIZE)]) == 0
    left = open_cache(left_dir)
    assert left.meta["landmark_source"] == "annotated" and left.meta["error_log_applied"] is True
    labels = [c for c in left.index.columns if c.startswith("au")]
    np.testing.assert_array_equal(left.index[labels], right.index[labels])
    assert left.checksum != right.checksum


def test_resume_redoes_only_unfinished_subjects(root, right_dir, right, capsys):
    before = json.loads((right_dir / "meta.json").read_text())
    (right_dir / "subjects" / "SN002" / "done.json").unlink()
    (right_dir / "meta.json").unlink()
    assert main(["prepare", "disfa", str(root), "--out", str(right_dir), "--camera", "right",
                 "--size", str(SIZE)]) == 0
    after = open_cache(right_dir)
    assert after.meta["subjects"]["SN001"] == before["subjects"]["SN001"]   # kept as it was
    assert after.checksum == before["checksum"]                            # SN002 redone identically
    # a right-camera cache is never resumed as a left-camera one
    assert main(["prepare", "disfa", str(root), "--out", str(right_dir), "--size", str(SIZE)]) != 0
    assert "camera='right'" in capsys.readouterr().err
