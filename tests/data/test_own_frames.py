"""auzoo prepare frames: a lab's own CSV of images and video frames."""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from auzoo.cli import main
from auzoo.data import open_cache
from auzoo.data.cache_format import NOT_CODED
from auzoo.data.au_frames import AUFrames
from auzoo.data.datasets.frames import balanced_folds
from auzoo.data.datasets.frames.reader import LabelsCsv, LabelsCsvError
from auzoo.data.datasets.frames.prepare import prepare_frames
from auzoo.data.synth import make_identity, render_frame

W, H, SIZE = 640, 480, 64


def _faces(seed, n):
    """n frames of one drawn person (dlib finds faces of this size), smiling from frame 3."""
    identity = make_identity(np.random.default_rng(seed), W, H)
    out = []
    for t in range(n):
        inten = np.zeros(12)
        inten[[4, 6]] = 4 if t >= 3 else 0     # AU6 + AU12
        out.append(render_frame(identity, inten, t, W, H)[0])
    return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    (root / "img").mkdir()
    rows = ["subject,path,frame,AU06,au12,AU4,notes"]
    for i, img in enumerate(_faces(1, 4)):
        cv2.imwrite(str(root / "img" / f"p1_{i}.jpg"), img)
        rows.append(f"p1,img/p1_{i}.jpg,,{int(i >= 3)},{int(i >= 3)},,x")
    rows.append("p1,img/gone.jpg,,0,0,0,")                          # missing file
    writer = cv2.VideoWriter(str(root / "p2.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    for img in _faces(2, 6):
        writer.write(img)
    writer.release()
    for f in (0, 1, 4, 5):
        rows.append(f"p2,p2.avi,{f},{int(f >= 3)},{int(f >= 3)},9,")
    rows.append("p2,p2.avi,40,0,0,0,")                                # past the video's end
    blank = np.full((H, W, 3), 128, np.uint8)
    cv2.imwrite(str(root / "img" / "p3_0.png"), blank)                # no face in it
    cv2.imwrite(str(root / "img" / "p3_1.png"), _faces(3, 4)[3])
    rows += ["p3,img/p3_0.png,,0,0,0,", "p3,img/p3_1.png,,1,1,-1,"]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def own_cache(lab, tmp_path_factory):
    out = tmp_path_factory.mktemp("own") / "c"
    assert main(["prepare", "frames", str(lab / "labels.csv"), "--out", str(out),
                 "--size", str(SIZE), "--folds", "3"]) == 0
    return open_cache(out)


def test_images_and_video_frames_are_found_aligned_and_indexed(own_cache):
    idx = own_cache.index
    assert own_cache.dataset.name == "frames" and own_cache.dataset.aus == (4, 6, 12)
    assert list(idx.subject) == ["p1"] * 4 + ["p2"] * 4 + ["p3"] * 2
    assert list(idx.frame[idx.subject == "p2"]) == [0, 1, 4, 5]
    assert (idx.frame[idx.subject == "p1"] == -1).all()
    assert list(idx.line[idx.subject == "p2"]) == [7, 8, 9, 10]
    no_face = idx[~idx.aligned]
    assert list(no_face.path) == ["img/p3_0.png"] and bool(no_face.landmarks_missing.iloc[0])
    assert idx.aligned.sum() == 9
    lm = own_cache.landmarks("p2")[2]
    np.testing.assert_allclose((lm[27] + lm[30]) / 2, (SIZE - 1) / 2, atol=1e-3)
    assert own_cache.frames("p2")[2].std() > 10


def test_missing_files_are_counted_and_named(own_cache):
    meta = own_cache.meta
    assert meta["totals"]["missing_files"] == 2 and meta["totals"]["rows"] == 12
    assert meta["subjects"]["p1"]["missing"] == ["line 6: img/gone.jpg (file not found)"]
    assert meta["subjects"]["p2"]["missing"] == ["line 11: p2.avi (video has no frame 40)"]
    assert meta["csv_columns_left_out"] == ["notes"]


def test_labels_not_coded_cells_and_threshold(own_cache):
    ds = AUFrames(own_cache, ["p1", "p2", "p3"], aus=(12, 4), bad_frames="drop")
    assert len(ds) == 9
    np.testing.assert_array_equal(ds.labels[:, 0], [0, 0, 0, 1, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(ds.mask[:, 1], [False] * 4 + [False] * 4 + [False])
    raw = own_cache.index.au4.to_numpy()
    assert (raw[own_cache.index.subject.to_numpy() == "p2"] == NOT_CODED).all()
    assert own_cache.describe()["positive"] == "value >= 1"


def test_folds_are_pinned_balanced_and_stable(own_cache, lab, tmp_path):
    folds = own_cache.folds
    assert sorted(s for _, test in folds.values() for s in test) == ["p1", "p2", "p3"]
    assert all(len(test) == 1 for _, test in folds.values())
    meta = json.loads((own_cache.root / "meta.json").read_text())
    pinned = meta["protocol"]["test_folds"]
    again = prepare_frames(lab / "labels.csv", tmp_path / "again", size=SIZE, folds=3)
    assert again["protocol"]["test_folds"] == pinned
    # a rerun into the same cache with other folds is refused, not silently re-split
    with pytest.raises(ValueError, match="folds="):
        prepare_frames(lab / "labels.csv", own_cache.root, size=SIZE, folds=2)
    assert balanced_folds({"a": 10, "b": 7, "c": 5, "d": 3}, 2) == {1: ("a", "d"), 2: ("b", "c")}


def test_fold_column_and_threshold(lab, tmp_path):
    text = (lab / "labels.csv").read_text().splitlines()
    rows = [text[0].replace(",notes", ",fold")]
    for line in text[1:]:
        fold = {"p1": 1, "p2": 2, "p3": 2}[line.split(",")[0]]
        rows.append(",".join(line.split(",")[:-1] + [str(fold)]))
    root = tmp_path / "lab"
    shutil.copytree(lab, root)
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    csv = LabelsCsv(root / "labels.csv")
    assert {r.fold for r in csv.rows} == {1, 2}
    with pytest.raises(LabelsCsvError, match="no frame would be positive"):
        prepare_frames(root / "labels.csv", tmp_path / "c", size=SIZE, threshold=2)


@pytest.mark.parametrize("body, message", [
    ("p1,a.jpg,,2x,0\n", r"line 2: AU6 is '2x'"),
    ("p1,a.jpg,,0,0\np1,v.mp4,,0,1\n", r"line 3: v.mp4 is a video; its 'frame'"),
    (",a.jpg,,0,0\n", r"line 2: subject '' is empty"),
    ("p1,a.jpg,,0,0\np2,a.jpg,,1,1\n", r"line 3: the same frame as line 2"),
    ("p1,a.jpg,,0\n", r"line 2: 4 cells for 5 columns"),
])
def test_errors_name_the_csv_line(tmp_path, body, message):
    path = tmp_path / "l.csv"
    path.write_text("subject,path,frame,AU6,AU12\n" + body)
    with pytest.raises(LabelsCsvError, match=message):
        LabelsCsv(path)


def test_header_errors(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("subject,path,AU1,au01\np,a.jpg,0,0\n")
    with pytest.raises(LabelsCsvError, match="line 1: two columns for AU1"):
        LabelsCsv(path)
    path.write_text("subject,file,AU1\np,a.jpg,0\n")
    with pytest.raises(LabelsCsvError, match="line 1: no 'path' column"):
        LabelsCsv(path)


def test_au_columns_in_the_spellings_labs_use(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("subject,path,AU_1,au2,AU04_c,AU6_r,AU 9,Au-12,AU25,notes\n"
                    "p,a.jpg,1,0,1,3,0,1,9,x\n")
    labels = LabelsCsv(path)
    assert labels.aus == (1, 2, 4, 6, 9, 12, 25)
    assert labels.rows[0].labels[:6] == (1, 0, 1, 3, 0, 1)
    assert labels.ignored == ["notes"]  # not AU-like: left out and reported


@pytest.mark.parametrize("column", ["AUl2", "AU", "AU_x", "AU25_prob", "AUO1"])
def test_an_au_like_column_that_cannot_be_read_is_an_error_naming_it(tmp_path, column):
    path = tmp_path / "l.csv"
    path.write_text(f"subject,path,AU1,{column}\np,a.jpg,0,1\n")
    with pytest.raises(LabelsCsvError, match=rf"{path}, line 1: column '{column}' looks like an AU"):
        LabelsCsv(path)


def test_preparing_into_a_cache_of_other_labels_says_the_csv_changed(own_cache, lab, tmp_path,
                                                                     capsys):
    root = tmp_path / "lab"
    shutil.copytree(lab, root)
    text = (root / "labels.csv").read_text().splitlines()
    text[1] = text[1].replace(",0,0,", ",1,1,", 1)  # one label edited
    (root / "labels.csv").write_text("\n".join(text) + "\n")
    assert main(["prepare", "frames", str(root / "labels.csv"), "--out", str(own_cache.root),
                 "--size", str(SIZE), "--folds", "3"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{own_cache.root} was prepared from other labels: {root / 'labels.csv'} is not the " \
           "labels CSV it was made from, or that CSV has changed since" in err
    assert "prepare into another --out" in err
