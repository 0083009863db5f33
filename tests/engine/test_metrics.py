"""Metrics against counts done by hand."""
import numpy as np
import pytest
import torch

from auzoo.engine.metrics import (AUMetric, au_accuracy, au_f1, au_scores, binarize,
                                  confusion_counts, constant_baseline, per_subject_f1)

# 6 frames, 3 AUs. Columns, counted by hand:
#   AU a: TP=2 (f0, f1), FP=1 (f2), FN=1 (f3), TN=2 -> P=2/3, R=2/3, F1=2/3, acc=4/6
#   AU b: TP=0, FP=2 (f0, f5), FN=0, TN=4        -> F1=0 (no positives), acc=4/6
#   AU c: TP=3 (f3, f4, f5), FP=0, FN=1 (f2), TN=2 -> P=1, R=3/4, F1=6/7, acc=5/6
Y_TRUE = np.array([[1, 0, 0],
                   [1, 0, 0],
                   [0, 0, 1],
                   [1, 0, 1],
                   [0, 0, 1],
                   [0, 0, 1]])
Y_PRED = np.array([[1, 1, 0],
                   [1, 0, 0],
                   [1, 0, 0],
                   [0, 0, 1],
                   [0, 0, 1],
                   [0, 1, 1]])


def test_hand_count():
    counts = confusion_counts(Y_TRUE, Y_PRED)  # TN, FP, FN, TP
    assert counts.tolist() == [[2, 1, 1, 2], [4, 2, 0, 0], [2, 0, 1, 3]]
    np.testing.assert_allclose(au_f1(Y_TRUE, Y_PRED), [2 / 3, 0.0, 6 / 7])
    np.testing.assert_allclose(au_accuracy(Y_TRUE, Y_PRED), [4 / 6, 4 / 6, 5 / 6])


def test_threshold_is_sigmoid_half():
    logits = np.array([[-0.01, 0.0, 3.0]])
    assert binarize(logits).tolist() == [[0, 1, 1]]  # sigmoid(0) = 0.5 counts as present


def test_scores_from_logits():
    logits = np.where(Y_PRED == 1, 2.0, -2.0)
    scores = au_scores(Y_TRUE, logits, aus=(1, 2, 4))
    assert scores["frames"] == 6
    assert scores["f1_mean"] == pytest.approx((2 / 3 + 0 + 6 / 7) / 3)
    assert scores["acc_mean"] == pytest.approx((4 + 4 + 5) / 18)
    with pytest.raises(ValueError, match="2 AUs"):
        au_scores(Y_TRUE, logits, aus=(1, 2))


def test_frames_pooled_not_averaged_per_subject():
    # Subject A: TP=1 FN=1 ; subject B: TP=1 FP=3. Pooled: TP=2 FP=3 FN=1 -> F1 = 4/8,
    # not the mean of the per-subject F1s (2/3 and 2/5).
    y_true = np.array([[1], [1], [1], [0], [0], [0]])
    y_pred = np.array([[1], [0], [1], [1], [1], [1]])
    subjects = ["A", "A", "B", "B", "B", "B"]
    assert au_f1(y_true, y_pred)[0] == pytest.approx(0.5)
    per_subject = per_subject_f1(y_true, y_pred, subjects, aus=(1,))
    assert per_subject.loc["A", "AU1"] == pytest.approx(2 / 3)  # P=1, R=1/2
    assert per_subject.loc["B", "AU1"] == pytest.approx(2 / 5)  # P=1/4, R=1
    assert per_subject["mean"].tolist() == pytest.approx([2 / 3, 2 / 5])


def test_per_subject_leaves_out_absent_aus():
    y_true = np.array([[1, 0], [0, 0]])
    y_pred = np.array([[1, 1], [0, 0]])
    table = per_subject_f1(y_true, y_pred, ["S", "S"], aus=(1, 2))
    assert np.isnan(table.loc["S", "AU2"])
    assert table.loc["S", "mean"] == pytest.approx(1.0)


def test_always_present_baseline():
    base = constant_baseline(Y_TRUE)
    # p = 3/6 -> F1 = 2p/(1+p) = 2/3 ; b: no positives -> 0 ; c: p = 4/6 -> 0.8
    np.testing.assert_allclose(base["f1"], [2 / 3, 0.0, 0.8])
    np.testing.assert_allclose(base["acc"], [0.5, 0.0, 4 / 6])


def test_mmengine_metric_deduplicates_padded_frames():
    metric = AUMetric(aus=(1, 2, 4))
    logits = torch.tensor(np.where(Y_PRED == 1, 1.0, -1.0), dtype=torch.float32)
    labels = torch.tensor(Y_TRUE)
    # two "ranks", the second padded with frame 0 again (as a distributed sampler does)
    known = torch.ones_like(labels, dtype=torch.bool)
    metric.process({}, [dict(logits=logits[:4], labels=labels[:4], label_mask=known[:4],
                             index=torch.arange(4))])
    metric.process({}, [dict(logits=logits[[4, 5, 0]], labels=labels[[4, 5, 0]],
                             label_mask=known[[4, 5, 0]], index=torch.tensor([4, 5, 0]))])
    out = metric.evaluate(size=6)
    assert out["frames"] == 6
    assert out["f1_AU1"] == pytest.approx(100 * 2 / 3)
    assert out["f1_AU2"] == 0.0
    assert out["f1_AU4"] == pytest.approx(100 * 6 / 7)
    assert out["f1_mean"] == pytest.approx(100 * (2 / 3 + 6 / 7) / 3)
    assert out["acc_mean"] == pytest.approx(100 * 13 / 18)


def test_f1_agrees_with_scikit_learn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, (200, 8))
    y_pred = rng.integers(0, 2, (200, 8))
    y_true[:, 3] = 0
    y_pred[:, 3] = 0  # an AU nobody shows and nobody predicts: 0, not NaN
    np.testing.assert_allclose(au_f1(y_true, y_pred),
                               f1_score(y_true, y_pred, average=None, zero_division=0.0))


def test_not_coded_labels_count_neither_as_present_nor_as_absent():
    """A frame whose AU is not coded (BP4D's 9) is left out of that AU's counts
    only: scoring it as 1 or as 0 would change F1 and accuracy."""
    y_true = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    y_pred = np.array([[1, 1], [1, 1], [0, 1], [0, 0]])
    mask = np.array([[True, True], [False, True], [True, False], [True, True]])
    counts = confusion_counts(y_true, y_pred, mask)
    # AU a: frames 0, 2, 3 -> TP (1,1), FN (1,0), TN (0,0)
    assert counts[0].tolist() == [1, 0, 1, 1]
    # AU b: frames 0, 1, 3 -> FP (0,1), TP (1,1), TN (0,0)
    assert counts[1].tolist() == [1, 1, 0, 1]
    as_absent = confusion_counts(np.where(mask, y_true, 0), y_pred)
    as_present = confusion_counts(np.where(mask, y_true, 1), y_pred)
    assert not np.array_equal(counts, as_absent) and not np.array_equal(counts, as_present)
    f1 = au_f1(y_true, y_pred, mask)
    np.testing.assert_allclose(f1, [2 / 3, 2 / 3])
    base = constant_baseline(y_true, mask)
    np.testing.assert_allclose(base["f1"], [2 * 2 / (2 * 2 + 1), 2 * 1 / (2 * 1 + 2)])
