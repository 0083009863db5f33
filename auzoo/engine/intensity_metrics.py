"""AU intensity metrics as the intensity literature publishes them: ICC(3,1), PCC, MAE.

Per AU, over every coded frame of the scored set (n frames; "raters" are
the label y and the prediction p, k = 2), predictions first clipped to the
0-5 scale:

* **ICC(3,1)** (Shrout & Fleiss 1979: two-way mixed, single measure,
  consistency). With m_i the mean of frame i's two values, c_j the mean of
  rater j and M the grand mean::

      SS_frames = k * sum_i (m_i - M)^2          BMS = SS_frames / (n - 1)
      SS_raters = n * sum_j (c_j - M)^2
      SS_error  = SS_total - SS_frames - SS_raters
      EMS       = SS_error / ((n - 1)(k - 1))
      ICC(3,1)  = (BMS - EMS) / (BMS + (k - 1) EMS)

  For k = 2 this is 2 cov(y, p) / (var y + var p): a constant offset of the
  predictions does not change it, a scale mismatch lowers it, and it is 0
  for a constant prediction of a label that varies. NaN when both are
  constant (0 / 0).
* **PCC**: Pearson's r of y and p; NaN when either is constant over the
  scored frames (a zero predictor has no PCC).
* **MAE**: mean |p - y| on the 0-5 scale (a zero predictor's MAE is the
  mean label).

The headline numbers are the unweighted means over AUs of the per-AU values;
an AU whose value is NaN is left out of its mean (and the mean of none is
NaN). The functions take plain arrays (frames x AUs), scikit-learn style;
``mask`` (bool, like the labels) is False where the dataset did not code an
AU on a frame, and such a frame counts for none of that AU's numbers.
:class:`AUIntensityMetric` is the mmengine adapter used during training.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
from mmengine.evaluator import BaseMetric

from auzoo.registry import METRICS

MAX_INTENSITY = 5.0


def _columns(y_true, y_pred, mask) -> tuple:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape != y_pred.shape:
        raise ValueError(f"labels {y_true.shape} and predictions {y_pred.shape} must both be "
                         "(frames, AUs)")
    known = np.ones(y_true.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if known.shape != y_true.shape:
        raise ValueError(f"label mask {known.shape} and labels {y_true.shape} differ in shape")
    return y_true, np.clip(y_pred, 0.0, MAX_INTENSITY), known


def _nan_mean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def _icc_column(y: np.ndarray, p: np.ndarray) -> float:
    n, k = len(y), 2
    if n < 2:
        return float("nan")
    ratings = np.stack([y, p], axis=1)                     # (n, k)
    grand = ratings.mean()
    ss_total = float(((ratings - grand) ** 2).sum())
    ss_frames = k * float(((ratings.mean(axis=1) - grand) ** 2).sum())
    ss_raters = n * float(((ratings.mean(axis=0) - grand) ** 2).sum())
    bms = ss_frames / (n - 1)
    ems = (ss_total - ss_frames - ss_raters) / ((n - 1) * (k - 1))
    denominator = bms + (k - 1) * ems
    if denominator <= 1e-12 * max(1.0, ss_total):
        return float("nan")
    numerator = bms - ems
    if abs(numerator) <= 1e-12 * denominator:
        return 0.0       # rounding noise of an exact 0 (a constant prediction): no "-0.000"
    return numerator / denominator


def icc_3_1(y_true, y_pred, mask=None) -> np.ndarray:
    """Per-AU ICC(3,1) (two-way mixed, consistency, single measure), shape (n_AU,).

    ICC(3,1) = (BMS - EMS) / (BMS + (k - 1) EMS) with k = 2 raters (label,
    prediction), BMS = k sum_i (m_i - M)^2 / (n - 1) the between-frames mean
    square and EMS = (SS_total - SS_frames - SS_raters) / ((n - 1)(k - 1)) the
    residual mean square (module docstring). NaN where fewer than 2 frames
    are coded, or labels and predictions are both constant."""
    y_true, y_pred, known = _columns(y_true, y_pred, mask)
    return np.array([_icc_column(y_true[known[:, j], j], y_pred[known[:, j], j])
                     for j in range(y_true.shape[1])])


def pcc(y_true, y_pred, mask=None) -> np.ndarray:
    """Per-AU Pearson correlation r = cov(y, p) / (sd y sd p), shape (n_AU,);
    NaN where labels or predictions are constant over the coded frames."""
    y_true, y_pred, known = _columns(y_true, y_pred, mask)
    out = np.full(y_true.shape[1], np.nan)
    for j in range(y_true.shape[1]):
        y, p = y_true[known[:, j], j], y_pred[known[:, j], j]
        if len(y) < 2:
            continue
        dy, dp = y - y.mean(), p - p.mean()
        denominator = np.sqrt((dy ** 2).sum() * (dp ** 2).sum())
        if denominator > 0:
            out[j] = float((dy * dp).sum() / denominator)
    return out


def mae(y_true, y_pred, mask=None) -> np.ndarray:
    """Per-AU mean absolute error mean |p - y| over the coded frames (0-5
    scale), shape (n_AU,); NaN where no frame is coded."""
    y_true, y_pred, known = _columns(y_true, y_pred, mask)
    counts = known.sum(axis=0)
    err = np.where(known, np.abs(y_pred - y_true), 0.0).sum(axis=0)
    return np.divide(err, counts, out=np.full(len(counts), np.nan), where=counts > 0)


def intensity_scores(y_true, y_pred, aus: Sequence[int], mask=None) -> Dict[str, Any]:
    """Everything a result needs from one set of predictions: per-AU ``icc``,
    ``pcc``, ``mae`` arrays, their means (NaN AUs left out), ``frames`` per AU."""
    y_true = np.asarray(y_true)
    if y_true.ndim != 2 or y_true.shape[1] != len(aus):
        raise ValueError(f"{np.shape(y_true)} labels for {len(aus)} AUs {tuple(aus)}")
    known = np.ones(y_true.shape, bool) if mask is None else np.asarray(mask, bool)
    out = dict(aus=tuple(int(a) for a in aus), icc=icc_3_1(y_true, y_pred, known),
               pcc=pcc(y_true, y_pred, known), mae=mae(y_true, y_pred, known),
               frames=known.sum(axis=0).astype(np.int64))
    for key in ("icc", "pcc", "mae"):
        out[f"{key}_mean"] = _nan_mean(out[key])
    return out


def zero_baseline(y_true, mask=None) -> Dict[str, np.ndarray]:
    """Scores of predicting intensity 0 everywhere: ICC 0 where the label
    varies, no PCC (NaN), and MAE = the mean label. The floor an intensity
    model has to beat: most frames are 0 for most AUs, so a low MAE alone
    means little."""
    zeros = np.zeros(np.shape(y_true))
    return dict(icc=icc_3_1(y_true, zeros, mask), pcc=pcc(y_true, zeros, mask),
                mae=mae(y_true, zeros, mask))


def per_subject_icc(y_true, y_pred, subjects: Sequence[str], aus: Sequence[int],
                    mask=None) -> pd.DataFrame:
    """Per-AU ICC(3,1) within each subject: a DataFrame indexed by subject, one
    column per AU (``AU1`` …) and ``mean`` (the paired comparison's unit).

    An AU whose label is constant for a subject (never shown) says nothing
    about a model there: it is NaN and left out of ``mean``."""
    y_true, y_pred, known = _columns(y_true, y_pred, mask)
    subjects = np.asarray(subjects)
    if len(subjects) != len(y_true):
        raise ValueError(f"{len(subjects)} subject ids for {len(y_true)} frames")
    rows = {}
    for subject in sorted(set(subjects.tolist())):
        sel = subjects == subject
        y, p, k = y_true[sel], y_pred[sel], known[sel]
        icc = icc_3_1(y, p, k)
        for j in range(y.shape[1]):
            coded = y[k[:, j], j]
            if len(coded) < 2 or np.ptp(coded) == 0:
                icc[j] = np.nan
        rows[subject] = icc
    table = pd.DataFrame.from_dict(rows, orient="index", columns=[f"AU{a}" for a in aus])
    table.index.name = "subject"
    table["mean"] = table.mean(axis=1, skipna=True)
    return table


@METRICS.register_module()
class AUIntensityMetric(BaseMetric):
    """mmengine metric: per-AU ICC(3,1), PCC and MAE and their means.

    The model's ``val_step`` returns, per batch, a dict with ``intensity_pred``
    (N, A) on the 0-5 scale, ``intensity``, ``intensity_mask`` and ``index``.
    Frames are de-duplicated by ``index`` as :class:`~auzoo.engine.metrics.AUMetric`
    does. Keys: ``icc_mean``, ``pcc_mean``, ``mae_mean``, ``icc_AU1`` …
    """

    default_prefix: Optional[str] = ""
    KEYS = ("intensity_pred", "intensity", "intensity_mask", "index")

    def __init__(self, aus: Sequence[int] = (), collect_device: str = "gpu",
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.aus = tuple(int(a) for a in aus)
        self.predictions: Optional[Dict[str, np.ndarray]] = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for out in data_samples:
            if out.get("intensity_pred") is None:
                raise ValueError("AUIntensityMetric needs intensity predictions: the model has no "
                                 "intensity head (set model.intensity_head, task='intensity')")
            self.results.append({key: np.asarray(out[key].detach().float().cpu()
                                                 if key == "intensity_pred" else out[key].cpu())
                                 for key in self.KEYS})

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        index = np.concatenate([r["index"] for r in results])
        _, first = np.unique(index, return_index=True)
        arrays = {key: np.concatenate([r[key] for r in results])[first] for key in self.KEYS}
        self.predictions = arrays
        s = intensity_scores(arrays["intensity"], arrays["intensity_pred"], self.aus,
                             arrays["intensity_mask"])
        metrics = {f"{key}_mean": s[f"{key}_mean"] for key in ("icc", "pcc", "mae")}
        for j, au in enumerate(self.aus):
            for key in ("icc", "pcc", "mae"):
                metrics[f"{key}_AU{au}"] = float(s[key][j])
        metrics["intensity_frames"] = int(len(first))
        return metrics


__all__ = ["AUIntensityMetric", "MAX_INTENSITY", "icc_3_1", "intensity_scores", "mae", "pcc",
           "per_subject_icc", "zero_baseline"]
