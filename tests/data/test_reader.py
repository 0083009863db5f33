"""The DISFA reader on a synthetic copy: every quirk of real copies, and bad input."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from auzoo.data.datasets.disfa.reader import (DisfaFormatError, DisfaRoot, read_label_file,
                                              read_landmark_file)
from auzoo.data.datasets.disfa import DISFA_LABELLED_AUS, DISFA_SUBJECTS
from auzoo.data.datasets.disfa.synth import subject_truth
from auzoo.data.synth import read_frame_code

from .conftest import FRAMES, HEIGHT, SEED, WIDTH


def truth(subject):
    return subject_truth(subject, FRAMES, SEED, WIDTH, HEIGHT)


def expected_frames(subject):
    return FRAMES - 1 if subject in ("SN010", "SN012") else FRAMES


def test_finds_all_subjects_and_their_files(synth_root):
    data = DisfaRoot(synth_root)
    assert data.subjects == list(DISFA_SUBJECTS)
    assert data.video_dir.name == "Videos_LeftCamera"
    assert data["SN003"].video.name == "leftVideoSN003_Comp.avi"      # case variant
    assert data["SN004"].landmark_folder.name == "frame_lm"             # any single subfolder
    right = DisfaRoot(synth_root, camera="right")
    assert right.video_dir.name == "Video_RightCamera"
    assert right["SN001"].video.name == "RightVideoSN001_Comp.avi"
    assert len(list(right["SN001"].frames())) == FRAMES


@pytest.mark.parametrize("subject", ["SN001", "SN010", "SN012", "SN031"])
def test_label_line_k_is_video_frame_k_is_landmark_file_k(synth_root, subject):
    """Line k of the labels, decoded frame k and the landmark file numbered for
    frame k all describe the same moment (SN031: l0NNNN files numbered from 1)."""
    files = DisfaRoot(synth_root)[subject]
    t = truth(subject)
    labels, lines = files.read_labels()
    assert len(labels) == t["plan"]["label_lines"]
    assert set(lines.values()) == {len(labels)}
    np.testing.assert_array_equal(labels, t["labels"][:len(labels)])
    decoded = [read_frame_code(f) for f in files.frames()]
    assert decoded == list(range(t["plan"]["video_frames"]))
    points, missing = files.read_landmarks(FRAMES)
    np.testing.assert_array_equal(np.flatnonzero(missing), t["plan"]["missing_landmarks"])
    ok = ~missing
    # Exact up to float32: an off-by-one frame would differ by the annotation noise.
    np.testing.assert_allclose(points[ok], t["landmarks"][:FRAMES][ok], atol=1e-3)


def test_landmark_numbering_start_is_detected_per_subject(synth_root):
    data = DisfaRoot(synth_root)
    assert data["SN031"].landmarks.first_number == 1
    assert data["SN001"].landmarks.first_number == 0
    assert min(data["SN031"].landmarks.files) == 0
    assert len(data["SN011"].landmarks.files) == FRAMES + 1   # one file more than frames


def _mirror(root: Path, subjects, *, video_dir="Video_LeftCamera", extra_level=True,
            lm_folder="whatever_name", rename_video=str.lower, renumber=None) -> Path:
    """A copy of part of ``root`` with other names (files are symlinks)."""
    src = DisfaRoot(root)
    new = root.parent / f"variant-{video_dir}-{extra_level}-{lm_folder}-{renumber}"
    if new.exists():
        shutil.rmtree(new)
    lm_top = new / "Landmark_Points" / ("Landmark_Points" if extra_level else "")
    for s in subjects:
        files = src[s]
        (new / "ActionUnit_Labels" / s).mkdir(parents=True)
        for p in files.label_files.values():
            os.symlink(p, new / "ActionUnit_Labels" / s / p.name)
        (new / video_dir).mkdir(parents=True, exist_ok=True)
        os.symlink(files.video, new / video_dir / rename_video(files.video.name))
        folder = lm_top / s / lm_folder
        folder.mkdir(parents=True)
        for k, p in files.landmarks.files.items():
            name = p.name if renumber is None else renumber(s, k)
            os.symlink(p, folder / name)
    return new


def test_name_variants_read_the_same(synth_root):
    subjects = ["SN001", "SN031"]
    root = _mirror(synth_root, subjects)
    # macOS archive litter that must not pass for data
    (root / "Video_LeftCamera" / "._leftvideosn001_comp.avi").write_bytes(b"\0" * 16)
    (root / "Landmark_Points" / "Landmark_Points" / "SN001" / "whatever_name"
     / "._SN001_0000_lm.mat").write_bytes(b"\0" * 16)
    (root / "ActionUnit_Labels" / "SN001" / "._SN001_au1.txt").write_bytes(b"\0" * 16)
    variant = DisfaRoot(root)
    assert variant.video_dir.name == "Video_LeftCamera"
    assert variant.landmarks_dir.name == "Landmark_Points"
    assert variant.landmarks_dir.parent.name == "Landmark_Points"   # the extra level
    original = DisfaRoot(synth_root)
    for s in subjects:
        a, b = original[s], variant[s]
        assert b.video.name == a.video.name.lower()
        np.testing.assert_array_equal(a.read_labels()[0], b.read_labels()[0])
        pa, ma = a.read_landmarks(FRAMES)
        pb, mb = b.read_landmarks(FRAMES)
        np.testing.assert_array_equal(ma, mb)
        np.testing.assert_array_equal(pa[~ma], pb[~mb])
        assert [read_frame_code(f) for f in b.frames(limit=5)] == list(range(5))


def test_plural_videos_folder_and_l0_numbering_from_zero(synth_root):
    # SN001's files renamed l0NNNN numbered from 0: frame k must still get file k.
    variant = DisfaRoot(_mirror(synth_root, ["SN001"], video_dir="VIDEOS_LEFTCAMERA",
                                extra_level=False, renumber=lambda s, k: f"l0{k:04d}_lm.mat"))
    files = variant["SN001"]
    assert files.landmarks.first_number == 0
    points, missing = files.read_landmarks(FRAMES)
    assert not missing.any()
    np.testing.assert_allclose(points, truth("SN001")["landmarks"][:FRAMES], atol=1e-3)


# ------------------------------------------------------------------ bad input

def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("content, line, what", [
    ("1,0\n2,1\n3;2\n", 3, "expected 'frame,intensity'"),
    ("1,0\n2,x\n", 2, "expected 'frame,intensity'"),
    ("1,0\n\n3,1\n", 2, "expected 'frame,intensity'"),
    ("1,0\n2,6\n", 2, "outside 0-5"),
    ("1,-1\n", 1, "outside 0-5"),
])
def test_bad_label_line_names_file_and_line(tmp_path, content, line, what):
    path = _write(tmp_path / "SN001_au1.txt", content)
    with pytest.raises(DisfaFormatError) as err:
        read_label_file(path)
    assert str(path) in str(err.value) and f"line {line}" in str(err.value) and what in str(err.value)


def test_trailing_blank_lines_and_crlf_are_fine(tmp_path):
    path = _write(tmp_path / "a.txt", "1,0\r\n2,3\r\n\r\n")
    np.testing.assert_array_equal(read_label_file(path), [0, 3])


def test_bad_mat_files_name_the_file(tmp_path):
    no_pts = tmp_path / "SN001_0000_lm.mat"
    scipy.io.savemat(no_pts, {"points": np.zeros((66, 2))})
    with pytest.raises(DisfaFormatError, match=r"SN001_0000_lm\.mat: no variable 'pts'"):
        read_landmark_file(no_pts)
    wrong = tmp_path / "SN001_0001_lm.mat"
    scipy.io.savemat(wrong, {"pts": np.zeros((68, 2))})
    with pytest.raises(DisfaFormatError, match=r"SN001_0001_lm\.mat: 'pts' should be a 66x2"):
        read_landmark_file(wrong)
    junk = _write(tmp_path / "SN001_0002_lm.mat", "not a mat file")
    with pytest.raises(DisfaFormatError, match=r"SN001_0002_lm\.mat: cannot read"):
        read_landmark_file(junk)
    good = tmp_path / "SN001_0003_lm.mat"
    scipy.io.savemat(good, {"pts": np.full((66, 2), 11.0)})
    np.testing.assert_array_equal(read_landmark_file(good), np.full((66, 2), 10.0))  # 1-based


def test_missing_au_file_and_unreadable_video(synth_root, tmp_path):
    root = _mirror(synth_root, ["SN002"])
    label = root / "ActionUnit_Labels" / "SN002" / "SN002_au9.txt"
    label.unlink()
    with pytest.raises(FileNotFoundError, match=r"SN002.*missing label file\(s\) SN002_au9\.txt"):
        DisfaRoot(root)["SN002"]
    video = root / "Video_LeftCamera" / "leftvideosn002_comp.avi"
    video.unlink()
    _write(video, "this is not a video")
    os.symlink(DisfaRoot(synth_root)["SN002"].label_files[9], label)
    with pytest.raises(DisfaFormatError, match=r"leftvideosn002_comp\.avi: "):
        next(DisfaRoot(root)["SN002"].frames())


def test_missing_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no ActionUnit_Labels folder"):
        DisfaRoot(tmp_path)
    (tmp_path / "ActionUnit_Labels" / "SN001").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="Videos_LeftCamera"):
        DisfaRoot(tmp_path)


def test_all_labelled_aus_are_read_in_order(synth_root):
    files = DisfaRoot(synth_root)["SN005"]
    assert list(files.label_files) == list(DISFA_LABELLED_AUS)
    labels, _ = files.read_labels()
    assert labels.shape == (FRAMES, 12) and labels.max() <= 5
