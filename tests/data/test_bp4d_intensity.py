"""BP4D intensity codes: both layouts, 9 = not coded, rows without an
occurrence frame, bad files named; served by AUFrames beside occurrence."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auzoo.cli import main
from auzoo.data import open_cache
from auzoo.data.datasets.bp4d.reader import Bp4dFormatError
from auzoo.data.datasets.bp4d.intensity import (find_intensity_dir, intensity_files,
                                                read_intensity_csv)
from auzoo.data.cache_format import NOT_CODED
from auzoo.data.au_frames import AUFrames
from auzoo.data.datasets import dataset_from_meta
from auzoo.data.datasets.bp4d import CSV_NOT_CODED, FERA2015_INTENSITY_AUS
from auzoo.data.datasets.bp4d.prepare import prepare_bp4d
from auzoo.data.datasets.bp4d.synth import SequenceSettings, sequence_truth

SUBJECTS, FRAMES, TASKS, WIDTH, HEIGHT, SEED, SIZE = 2, 10, 2, 160, 214, 5, 48
NAMES = ("F001", "F003")


def _synth(root, layout):
    assert main(["synth", "bp4d", str(root), "--subjects", str(SUBJECTS), "--frames", str(FRAMES),
                 "--tasks", str(TASKS), "--width", str(WIDTH), "--height", str(HEIGHT),
                 "--seed", str(SEED), "--layout", layout]) == 0
    return root


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return _synth(tmp_path_factory.mktemp("bp4d_int"), "full")


@pytest.fixture(scope="module")
def cache(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("bp4d_int_cache") / "c"
    prepare_bp4d(root, out, size=SIZE, landmarks=root / "landmarks49")
    return open_cache(out)


def _truth(subject, task):
    return sequence_truth(subject, task, SequenceSettings(FRAMES, SEED, WIDTH, HEIGHT, TASKS),
                          subject == NAMES[0], subject == NAMES[1])


def test_intensity_codes_reach_the_cache(cache):
    assert cache.meta["intensity_aus"] == list(FERA2015_INTENSITY_AUS)
    assert cache.dataset.intensity_aus == FERA2015_INTENSITY_AUS
    index = cache.index
    for subject in NAMES:
        for task in range(1, TASKS + 1):
            truth = _truth(subject, task)
            rows = index[(index["subject"] == subject) & (index["sequence"] == f"T{task}")]
            frames = rows["frame"].to_numpy() - truth["start"]     # rows kept (one image is missing)
            for c, au in enumerate(FERA2015_INTENSITY_AUS):
                want = truth["intensity_codes"][frames, c]
                want = np.where(want == CSV_NOT_CODED, NOT_CODED, want)
                assert rows[f"au{au}_intensity"].tolist() == want.tolist(), (subject, task, au)
                coded = want != NOT_CODED                          # occurrence = intensity >= 2
                assert (rows[f"au{au}"].to_numpy()[coded] == (want[coded] >= 2)).all()
    totals = cache.meta["totals"]
    assert totals["intensity_not_coded"] == 3                     # the planted 9s of F001 T2 AU12
    assert totals["intensity_unmatched"] == 1                     # F003 T1 AU10's extra row
    described = cache.describe(1)["intensity"]
    assert described["aus"] == list(FERA2015_INTENSITY_AUS) and "9" in described["reference"]


def test_the_fera_layout_gives_the_same_cache(root, cache, tmp_path):
    fera = _synth(tmp_path / "fera", "fera")
    assert find_intensity_dir(fera).name == "AU Intensity Codes3.0"
    meta = prepare_bp4d(fera, tmp_path / "cache", size=SIZE, landmarks=fera / "landmarks49")
    assert meta["checksum"] == cache.checksum
    assert meta["intensity_aus"] == list(FERA2015_INTENSITY_AUS)


def test_frames_serve_intensity_with_its_own_mask(cache):
    frames = AUFrames(cache, cache.subjects, aus=(12, 6), intensity=True)
    batch = frames.__getitems__(list(range(len(frames))))
    assert batch["intensity"].shape == (len(frames), 2) and batch["intensity"].max() <= 5
    planted = (frames.rows["subject"] == "F001") & (frames.rows["sequence"] == "T2")
    not_coded = ~batch["intensity_mask"][:, 0].numpy()
    assert not_coded.sum() == 3 and planted.to_numpy()[not_coded].all()
    assert batch["label_mask"][not_coded, 0].all()                # occurrence still coded there
    with pytest.raises(ValueError, match=r"AU\(s\) 1 not coded with intensities by bp4d"):
        AUFrames(cache, cache.subjects, aus=(1, 12), intensity=True)


def test_a_copy_without_intensity_codes_says_so():
    ds = dataset_from_meta({"dataset": "bp4d"})
    index = pd.DataFrame({"au6": np.zeros(3, np.uint8)})
    with pytest.raises(ValueError, match="codes no AU intensity"):
        ds.intensities(index, (6,))


def test_intensity_files_are_matched_loosely(tmp_path):
    folder = tmp_path / "BP4D-AUIntensityCodes" / "Project" / "au6"
    folder.mkdir(parents=True)
    (folder / "f001_t1_something.csv").write_text("frame,intensity\n5,3\n6,9\n")
    found, files = intensity_files(tmp_path)
    assert found == folder.parent and files == {("F001", "T1"): {6: folder / "f001_t1_something.csv"}}
    frames, values = read_intensity_csv(folder / "f001_t1_something.csv")   # header skipped
    assert frames.tolist() == [5, 6] and values.tolist() == [3, NOT_CODED]


@pytest.mark.parametrize("text, message", [("1,0\n2,7\n", r"line 2: intensity '7'"),
                                           ("1,0\n1,2\n", r"frame\(s\) \[1\] listed twice"),
                                           ("1,0\n2\n", r"line 2: cannot read '2'")])
def test_bad_intensity_files_are_named_with_their_line(tmp_path, text, message):
    path = tmp_path / "F001_T1_AU06.csv"
    path.write_text(text)
    with pytest.raises(Bp4dFormatError, match=message) as err:
        read_intensity_csv(path)
    assert str(path) in str(err.value)
