"""The pinned DISFA protocol: folds, Error_LOG frames, policies, labels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auzoo.data import val_split
from auzoo.data.datasets.disfa import DISFA, DISFA_SUBJECTS, ERROR_LOG_RANGES, error_log_mask

fold_subjects = DISFA.fold_subjects
describe = DISFA.describe


def test_subjects_and_parts():
    assert len(DISFA_SUBJECTS) == 27
    assert not {"SN014", "SN015", "SN019", "SN020", "SN022"} & set(DISFA_SUBJECTS)
    parts = [set(p) for p in DISFA.parts.values()]
    assert all(len(p) == 9 for p in parts)
    assert set.union(*parts) == set(DISFA_SUBJECTS)
    assert DISFA.aus == (1, 2, 4, 6, 9, 12, 25, 26) and DISFA.threshold == 2


def test_folds_are_subject_exclusive_and_cover_every_subject_once():
    tested = []
    for fold, test_part in ((1, "part3"), (2, "part2"), (3, "part1")):
        train, test = fold_subjects(fold)
        assert len(train) == 18 and len(test) == 9
        assert not set(train) & set(test)
        assert set(test) == set(DISFA.parts[test_part])
        tested += test
    assert sorted(tested) == sorted(DISFA_SUBJECTS)
    with pytest.raises(ValueError, match="no fold 4; its folds are: 1, 2, 3"):
        fold_subjects(4)


def test_error_log_gives_jaa_nets_frame_counts():
    """JAA-Net drops the Error_LOG frames: 43,173 / 40,344 / 42,627 frames in part1/2/3."""
    lines = {s: 4844 if s == "SN010" else 4845 for s in DISFA_SUBJECTS}
    kept = {p: sum(int((~error_log_mask(s, lines[s])).sum()) for s in subjects)
            for p, subjects in DISFA.parts.items()}
    assert kept == {"part1": 43173, "part2": 40344, "part3": 42627}
    assert sum(lines.values()) == 130814
    mask = error_log_mask("SN011", 4845)          # 1-based inclusive 4830-4845
    assert mask[4829] and mask[4844] and not mask[4828]
    assert error_log_mask("SN001", 420)[397] and not error_log_mask("SN001", 420)[396]
    assert set(ERROR_LOG_RANGES) <= set(DISFA_SUBJECTS)


def _index():
    return pd.DataFrame({
        "subject": ["SN001"] * 4 + ["SN003"] * 2,
        "frame": [0, 1, 2, 3, 0, 1],
        "au1": [0, 2, 5, 1, 0, 3], "au2": 0, "au4": 0, "au6": [2, 0, 0, 0, 0, 0], "au9": 0,
        "au12": 0, "au25": [1, 1, 2, 2, 0, 0], "au26": 0,
        "error_log": [False, True, False, False, False, False],
        "aligned": [True, True, False, True, True, True],
        "bad_landmarks": [False, True, True, False, False, False],
    })


def test_select_frames_policies_and_labels():
    index = _index()
    drop = DISFA.select_frames(index, ["SN001"], "drop")
    assert list(drop.frame) == [0, 3]
    keep = DISFA.select_frames(index, ["SN001"], "keep")
    assert list(keep.frame) == [0, 1, 3]          # the Error_LOG frame, not the unaligned one
    both = DISFA.select_frames(index, ["SN003", "SN001"], "keep")
    assert list(both.subject) == ["SN001"] * 3 + ["SN003"] * 2   # index order kept
    labels, known = DISFA.labels(index)
    assert known.all()
    assert labels.dtype == np.uint8 and labels.shape == (6, 8)
    np.testing.assert_array_equal(labels[:, 0], [0, 1, 1, 0, 0, 1])     # AU1 >= 2
    np.testing.assert_array_equal(labels[:, 3], [1, 0, 0, 0, 0, 0])     # AU6
    np.testing.assert_array_equal(labels[:, 6], [0, 0, 1, 1, 0, 0])     # AU25
    with pytest.raises(ValueError, match="bad-frame policy"):
        DISFA.select_frames(index, ["SN001"], "ignore")


def test_describe_says_everything_a_result_needs():
    d = describe(fold=2, bad_frames="keep")
    assert d["aus"] == [1, 2, 4, 6, 9, 12, 25, 26] and d["threshold"] == 2
    assert d["fold"] == 2 and d["bad_frames"] == "keep"
    assert d["folds"][2]["test"] == sorted(DISFA.parts["part2"])
    assert len(d["folds"][1]["train"]) == 18


def test_val_split_is_reproducible_and_disjoint():
    train, _ = fold_subjects(1)
    a = val_split(train, n_val=3, seed=5)
    assert a == val_split(train, n_val=3, seed=5)
    assert len(a[1]) == 3 and len(a[0]) == 15 and not set(a[0]) & set(a[1])
    assert set(a[0]) | set(a[1]) == set(train)
    assert {val_split(train, 3, seed)[1] for seed in range(6)} != {a[1]}


def test_synthetic_folds_have_positives_for_every_au(cache):
    """Every evaluated AU has positives in the train and test part of every fold."""
    for fold in (1, 2, 3):
        for subjects in fold_subjects(fold):
            rows = DISFA.select_frames(cache.index, subjects, "drop")
            assert (DISFA.labels(rows)[0].sum(0) >= 2).all(), (fold, subjects)


def test_threshold_is_the_c_level_option_and_is_recorded():
    index = _index()
    np.testing.assert_array_equal(DISFA.labels(index, aus=(1,), threshold=3)[0][:, 0],
                                  [0, 0, 1, 0, 0, 1])               # AU1 >= 3
    np.testing.assert_array_equal(DISFA.labels(index, aus=(1,), threshold=1)[0][:, 0],
                                  [0, 1, 1, 1, 0, 1])
    d = DISFA.describe(fold=1, threshold=3)
    assert d["threshold"] == 3 and d["positive"] == "intensity >= 3" and d["threshold_default"] == 2
    assert DISFA.describe()["positive"] == "intensity >= 2"
    for bad in (0, 6, 2.5, "2"):
        with pytest.raises(ValueError, match="not an integer in 1-5"):
            DISFA.labels(index, threshold=bad)


def test_labels_follow_the_aus_asked_for_and_refuse_uncoded_ones():
    index = _index()
    rev, _ = DISFA.labels(index, aus=(26, 25, 12, 9, 6, 4, 2, 1))
    np.testing.assert_array_equal(rev, DISFA.labels(index)[0][:, ::-1])
    sub, known = DISFA.labels(index, aus=(6, 12))
    assert sub.shape == known.shape == (6, 2)
    np.testing.assert_array_equal(sub[:, 0], [1, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match=r"AU\(s\) 7 not coded by disfa: asked for AUs \[6, 7\], "
                                         r"disfa codes AUs \[1, 2, 4, 6, 9, 12, 25, 26\]"):
        DISFA.labels(index, aus=(6, 7))


def test_the_dataset_is_registered_and_named_by_caches(cache):
    from auzoo.data import get_dataset
    from auzoo.registry import PROTOCOLS

    assert PROTOCOLS.get("disfa") is type(DISFA) and get_dataset("disfa") == DISFA
    assert cache.dataset == DISFA and cache.meta["dataset"] == "disfa"
    assert cache.folds == {k: DISFA.fold_subjects(k) for k in (1, 2, 3)}
    d = cache.describe(fold=1, bad_frames="drop")
    assert d["dataset"] == "disfa" and d["checksum"] == cache.checksum
    assert "Error_LOG" in d["bad_frames_policy"]
