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
from sklearn.metrics import confusion_matrix

from auzoo.registry import METRICS

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


def _known(y_true: np.ndarray, mask: Optional[np.ndarray]) -> np.ndarray:
    if mask is None:
        return np.ones(y_true.shape, dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != y_true.shape:
        raise ValueError(f"label mask {mask.shape} and labels {y_true.shape} differ in shape")
    return mask


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray,
                     mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-AU counts over the coded frames, shape (n_AU, 4): columns TN, FP, FN, TP.

    ``mask`` (bool, like ``y_true``) is False where the dataset did not code an
    AU on a frame; such a frame counts for none of that AU's four numbers."""
    y_true, y_pred = _check(y_true, y_pred)
    known = _known(y_true, mask)
    counts = np.zeros((y_true.shape[1], 4), dtype=np.int64)
    for j in range(y_true.shape[1]):
        if not known[:, j].any():
            continue  # not coded on any of these frames: nothing to count
        counts[j] = confusion_matrix(y_true[:, j], y_pred[:, j], labels=[0, 1],
                                     sample_weight=known[:, j].astype(np.int64)).ravel()
    return counts


def _f1_from_counts(counts: np.ndarray) -> np.ndarray:
    _, fp, fn, tp = counts.T
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros(len(tp)), where=denominator > 0)


def au_f1(y_true: np.ndarray, y_pred: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-AU F1 over all coded frames, shape (n_AU,): 2TP / (2TP + FP + FN), 0
    when that is 0 / 0 (what ``sklearn.metrics.f1_score(zero_division=0)`` gives)."""
    return _f1_from_counts(confusion_counts(y_true, y_pred, mask))


def au_accuracy(y_true: np.ndarray, y_pred: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-AU accuracy over all coded frames, shape (n_AU,)."""
    counts = confusion_counts(y_true, y_pred, mask)
    total = counts.sum(axis=1)
    return np.divide(counts[:, 0] + counts[:, 3], total, out=np.zeros(len(total)), where=total > 0)


def au_scores(y_true: np.ndarray, logits: np.ndarray, aus: Sequence[int],
              mask: Optional[np.ndarray] = None) -> Dict[str, Any]:
    """Everything a result row needs from one fold's predictions.

    Returns a dict with ``f1`` and ``acc`` (per-AU arrays), ``f1_mean``,
    ``acc_mean``, ``counts`` (per-AU TN/FP/FN/TP) and ``frames``.
    """
    y_pred = binarize(logits)
    if y_pred.shape[1] != len(aus):
        raise ValueError(f"{y_pred.shape[1]} logit columns for {len(aus)} AUs {tuple(aus)}")
    counts = confusion_counts(y_true, y_pred, mask)
    f1 = _f1_from_counts(counts)
    total = counts.sum(axis=1)
    acc = np.divide(counts[:, 0] + counts[:, 3], total, out=np.zeros(len(total)), where=total > 0)
    return dict(aus=tuple(int(a) for a in aus), f1=f1, acc=acc,
                f1_mean=float(f1.mean()), acc_mean=float(acc.mean()),
                counts=counts, frames=int(len(y_true)))


def per_subject_f1(y_true: np.ndarray, y_pred: np.ndarray, subjects: Sequence[str],
                   aus: Sequence[int], mask: Optional[np.ndarray] = None) -> pd.DataFrame:
    """Per-AU F1 within each subject: a DataFrame indexed by subject, one
    column per AU (``AU1`` …) and ``mean``. The paired model comparison of
    ``auzoo bench`` bootstraps over these rows.

    An AU the subject never shows has F1 = 0 whatever a model predicts, so it
    says nothing about the model: it is NaN here and left out of ``mean``
    (NaN when the subject shows none of the AUs)."""
    y_true, y_pred = _check(y_true, y_pred)
    known = _known(y_true, mask)
    subjects = np.asarray(subjects)
    if len(subjects) != len(y_true):
        raise ValueError(f"{len(subjects)} subject ids for {len(y_true)} frames")
    rows = {}
    for subject in sorted(set(subjects.tolist())):
        sel = subjects == subject
        f1 = au_f1(y_true[sel], y_pred[sel], known[sel])
        f1[(y_true[sel] * known[sel]).sum(axis=0) == 0] = np.nan
        rows[subject] = f1
    table = pd.DataFrame.from_dict(rows, orient="index", columns=[f"AU{a}" for a in aus])
    table.index.name = "subject"
    table["mean"] = table.mean(axis=1, skipna=True)
    return table


def constant_baseline(y_true: np.ndarray, mask: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """Scores of always predicting "present": F1 = 2p / (1 + p) with p the
    positive rate. The floor a detector has to beat on imbalanced AUs."""
    y_true = np.asarray(y_true)
    ones = np.ones_like(y_true)
    return dict(f1=au_f1(y_true, ones, mask), acc=au_accuracy(y_true, ones, mask))


@METRICS.register_module()
class AUMetric(BaseMetric):
    """mmengine metric: per-AU F1 and accuracy (percent) and their means.

    The model's ``val_step`` returns, per batch, a dict with ``logits``,
    ``labels``, ``label_mask`` and ``index`` (dataset row of every frame).
    Frames are de-duplicated by ``index``, so a distributed sampler that pads
    the last batch never counts a frame twice. Results are gathered with the
    process group's own collective (``collect_device='gpu'`` in mmengine's
    terms), never through a folder on disk.
    """

    default_prefix: Optional[str] = ""  # keys stay 'f1_mean', 'f1_AU1' …

    def __init__(self, aus: Sequence[int] = (), collect_device: str = "gpu",
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.aus = tuple(int(a) for a in aus)
        self.predictions: Optional[Dict[str, np.ndarray]] = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for out in data_samples:
            self.results.append({key: np.asarray(out[key].detach().float().cpu()
                                                 if key == "logits" else out[key].cpu())
                                 for key in ("logits", "labels", "label_mask", "index")})

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        index = np.concatenate([r["index"] for r in results])
        _, first = np.unique(index, return_index=True)
        logits = np.concatenate([r["logits"] for r in results])[first]
        labels = np.concatenate([r["labels"] for r in results])[first]
        mask = np.concatenate([r["label_mask"] for r in results])[first]
        # kept for the best-epoch hook (the test fold's predictions, when the
        # epoch is chosen on it)
        self.predictions = dict(index=index[first], logits=logits, labels=labels, label_mask=mask)
        scores = au_scores(labels, logits, self.aus, mask)
        metrics = {"f1_mean": 100 * scores["f1_mean"], "acc_mean": 100 * scores["acc_mean"]}
        for au, f1, acc in zip(self.aus, scores["f1"], scores["acc"]):
            metrics[f"f1_AU{au}"] = 100 * float(f1)
            metrics[f"acc_AU{au}"] = 100 * float(acc)
        metrics["frames"] = scores["frames"]
        return metrics


from auzoo.engine import intensity_metrics  # noqa: E402,F401  (registers AUIntensityMetric)
