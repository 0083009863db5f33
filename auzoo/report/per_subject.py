"""Per-subject scores of a run, from its ``predictions.csv``: the unit of the
paired comparison of ``auzoo bench``.

* ``f1``: per subject, the mean over the AUs the subject shows of the F1 of
  P(present) >= 0.5 (an occurrence model's ``AUnn_pred``; a model with both
  heads: ``AUnn_prob`` against ``AUnn_true`` >= the dataset's threshold).
* ``icc``: per subject, the mean over the AUs whose intensity varies for the
  subject of ICC(3,1) (``AUnn_true`` against ``AUnn_pred``, 0-5).

A run whose folder has no ``predictions.csv`` (written before it was kept)
falls back to the per-subject scores stored in its ``result.json``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np
import pandas as pd

from auzoo.engine.predictions import PREDICTIONS_CSV, prediction_aus, read_predictions_csv
from auzoo.engine.records import RunResult

METRICS = ("f1", "icc")


def predictions_path(result: RunResult) -> Optional[Path]:
    """The ``predictions.csv`` beside a result read from disk, if there is one."""
    if result.where is None:
        return None
    path = Path(result.where).parent / PREDICTIONS_CSV
    return path if path.is_file() else None


def _from_table(table: pd.DataFrame, metric: str, result: RunResult) -> Dict[str, float]:
    from auzoo.engine.intensity_metrics import per_subject_icc
    from auzoo.engine.metrics import per_subject_f1

    aus = prediction_aus(table)
    true = table[[f"AU{a:02d}_true" for a in aus]].to_numpy(np.float64)
    known = np.isfinite(true)
    subjects = table["subject"].to_numpy()
    if metric == "icc":
        pred = table[[f"AU{a:02d}_pred" for a in aus]].to_numpy(np.float64)
        scores = per_subject_icc(np.nan_to_num(true), pred, subjects, aus, known)
        return scores["mean"].to_dict()
    if result.intensity is not None:           # both heads: occurrence from the intensity label
        threshold = (result.provenance.protocol or {}).get("threshold", 1)
        prob = table[[f"AU{a:02d}_prob" for a in aus]].to_numpy(np.float64)
        labels = (np.nan_to_num(true) >= threshold).astype(np.int64)
    else:
        prob = table[[f"AU{a:02d}_pred" for a in aus]].to_numpy(np.float64)
        labels = np.nan_to_num(true).astype(np.int64)
    scores = per_subject_f1(labels, (prob >= 0.5).astype(np.int64), subjects, aus, known)
    return (100 * scores["mean"]).to_dict()


def _stored(result: RunResult, metric: str) -> Dict[str, float]:
    per = (result.scores.per_subject_f1 if metric == "f1" and result.scores is not None
           else result.intensity.per_subject_icc if metric == "icc" and result.intensity is not None
           else {})
    out = {}
    for subject, row in per.items():
        if row.get("mean") is not None:
            out[subject] = float(row["mean"])
        else:
            values = [v for k, v in row.items() if k.startswith("AU") and v is not None]
            out[subject] = float(np.mean(values)) if values else np.nan
    return out


def per_subject_scores(result: RunResult, metric: str = "f1") -> Dict[str, float]:
    """subject -> the run's score on that subject (``metric``: 'f1' in percent, 'icc')."""
    if metric not in METRICS:
        raise ValueError(f"per-subject metric {metric!r}: choose one of {', '.join(METRICS)}")
    if (metric == "f1" and result.scores is None) or (metric == "icc" and result.intensity is None):
        return {}
    path = predictions_path(result)
    if path is None:
        return _stored(result, metric)
    return _from_table(read_predictions_csv(path), metric, result)


__all__ = ["METRICS", "per_subject_scores", "predictions_path"]
