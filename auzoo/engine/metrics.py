"""AU detection metrics as the DISFA literature publishes them.

A frame is predicted positive for an AU when sigmoid(logit) >= 0.5, i.e.
logit >= 0. True/false positives and negatives are accumulated over every
frame of the test fold (not averaged per subject); per-AU F1 = 2PR / (P + R),
per-AU accuracy = (TP + TN) / N, and the headline numbers are their means over
the AUs. An AU without a single positive frame and without a single positive
prediction has F1 = 0 (scikit-learn's ``zero_division=0``), as in JAA-Net's
evaluation code.

The functions take plain arrays, scikit-learn style, and return fractions in
[0, 1]; :class:`AUMetric` is the mmengine adapter used during training and
reports percentages, the unit of the published tables.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
from mmengine.evaluator import BaseMetric
from sklearn.metrics import multilabel_confusion_matrix

THRESHOLD_LOGIT = 0.0  # sigmoid(logit) >= 0.5


def binarize(logits: np.ndarray, threshold: float = THRESHOLD_LOGIT) -> np.ndarray:
    """0/1 predictions from logits: positive where ``logit >= threshold``."""
    return (np.asarray(logits) >= threshold).astype(np.int64)


def _check(y_true: np.ndarray, y_pred: np.ndarray) -> tuple:
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 2 or y_true.shape != y_pred.shape:
        raise ValueError(f"labels {y_true.shape} and predictions {y_pred.shape} must both be "
                         "(frames, AUs)")
    return y_true.astype(np.int64), y_pred.astype(np.int64)


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Per-AU counts, shape (n_AU, 4): columns TN, FP, FN, TP."""
    y_true, y_pred = _check(y_true, y_pred)
    if y_true.shape[1] == 1:  # scikit-learn reads one column as a binary problem
        return multilabel_confusion_matrix(y_true[:, 0], y_pred[:, 0], labels=[1]).reshape(-1, 4)
    return multilabel_confusion_matrix(y_true, y_pred).reshape(-1, 4)


def au_f1(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Per-AU F1 over all frames, shape (n_AU,): 2TP / (2TP + FP + FN), 0 when
    that is 0 / 0 (what ``sklearn.metrics.f1_score(zero_division=0)`` gives)."""
    _, fp, fn, tp = confusion_counts(y_true, y_pred).T
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros(len(tp)), where=denominator > 0)


def au_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Per-AU accuracy over all frames, shape (n_AU,)."""
    counts = confusion_counts(y_true, y_pred)
    return (counts[:, 0] + counts[:, 3]) / counts.sum(axis=1)


def au_scores(y_true: np.ndarray, logits: np.ndarray, aus: Sequence[int]) -> Dict[str, Any]:
    """Everything a result row needs from one fold's predictions.

    Returns a dict with ``f1`` and ``acc`` (per-AU arrays), ``f1_mean``,
    ``acc_mean``, ``counts`` (per-AU TN/FP/FN/TP) and ``frames``.
    """
    y_pred = binarize(logits)
    if y_pred.shape[1] != len(aus):
        raise ValueError(f"{y_pred.shape[1]} logit columns for {len(aus)} AUs {tuple(aus)}")
    f1 = au_f1(y_true, y_pred)
    acc = au_accuracy(y_true, y_pred)
    return dict(aus=tuple(int(a) for a in aus), f1=f1, acc=acc,
                f1_mean=float(f1.mean()), acc_mean=float(acc.mean()),
                counts=confusion_counts(y_true, y_pred), frames=int(len(y_true)))


def per_subject_f1(y_true: np.ndarray, y_pred: np.ndarray, subjects: Sequence[str],
                   aus: Sequence[int]) -> pd.DataFrame:
    """Per-AU F1 within each subject: a DataFrame indexed by subject, one
    column per AU (``AU1`` …) and ``mean``. The paired model comparison of
    ``auzoo bench`` bootstraps over these rows.

    An AU the subject never shows has F1 = 0 whatever a model predicts, so it
    says nothing about the model: it is NaN here and left out of ``mean``
    (NaN when the subject shows none of the AUs)."""
    y_true, y_pred = _check(y_true, y_pred)
    subjects = np.asarray(subjects)
    if len(subjects) != len(y_true):
        raise ValueError(f"{len(subjects)} subject ids for {len(y_true)} frames")
    rows = {}
    for subject in sorted(set(subjects.tolist())):
        sel = subjects == subject
        f1 = au_f1(y_true[sel], y_pred[sel])
        f1[y_true[sel].sum(axis=0) == 0] = np.nan
        rows[subject] = f1
    table = pd.DataFrame.from_dict(rows, orient="index", columns=[f"AU{a}" for a in aus])
    table.index.name = "subject"
    table["mean"] = table.mean(axis=1, skipna=True)
    return table


def constant_baseline(y_true: np.ndarray) -> Dict[str, np.ndarray]:
    """Scores of always predicting "present": F1 = 2p / (1 + p) with p the
    positive rate. The floor a detector has to beat on imbalanced AUs."""
    y_true = np.asarray(y_true)
    ones = np.ones_like(y_true)
    return dict(f1=au_f1(y_true, ones), acc=au_accuracy(y_true, ones))


class AUMetric(BaseMetric):
    """mmengine metric: per-AU F1 and accuracy (percent) and their means.

    The model's ``val_step`` returns, per batch, a dict with ``logits``,
    ``labels`` and ``index`` (dataset row of every frame). Frames are
    de-duplicated by ``index``, so a distributed sampler that pads the last
    batch never counts a frame twice.
    """

    default_prefix: Optional[str] = ""  # keys stay 'f1_mean', 'f1_AU1' …

    def __init__(self, aus: Sequence[int], collect_device: str = "cpu",
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.aus = tuple(int(a) for a in aus)
        self.predictions: Optional[Dict[str, np.ndarray]] = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for out in data_samples:
            self.results.append({key: out[key].detach().float().cpu().numpy()
                                 if key == "logits" else np.asarray(out[key].cpu())
                                 for key in ("logits", "labels", "index")})

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        index = np.concatenate([r["index"] for r in results])
        _, first = np.unique(index, return_index=True)
        logits = np.concatenate([r["logits"] for r in results])[first]
        labels = np.concatenate([r["labels"] for r in results])[first]
        # kept for the best-epoch hook (the test fold's predictions, when the
        # epoch is chosen on it)
        self.predictions = dict(index=index[first], logits=logits, labels=labels)
        scores = au_scores(labels, logits, self.aus)
        metrics = {"f1_mean": 100 * scores["f1_mean"], "acc_mean": 100 * scores["acc_mean"]}
        for au, f1, acc in zip(self.aus, scores["f1"], scores["acc"]):
            metrics[f"f1_AU{au}"] = 100 * float(f1)
            metrics[f"acc_AU{au}"] = 100 * float(acc)
        metrics["frames"] = scores["frames"]
        return metrics
