"""Per-frame predictions: what a model said on every test frame, beside the labels.

:class:`Predictions` holds one scoring pass (the one inference path's output
split into occurrence logits and 0-5 intensities, by the model's task);
:func:`write_predictions_csv` writes it as ``predictions.csv`` in the run's
work folder, one row per frame::

    subject, [sequence,] frame, AU01_true, AU01_pred, AU02_true, AU02_pred, ...

AU numbers have two digits, as OpenFace writes them. For an occurrence model
``AUnn_true`` is the 0/1 label and ``AUnn_pred`` the probability
sigmoid(logit) (a frame counts as present at >= 0.5); for an intensity model
both are on the 0-5 scale; a model with both heads writes the intensities in
``_true`` / ``_pred`` and its occurrence probability in ``AUnn_prob`` (the
occurrence label is the intensity's, >= the dataset's threshold). A label the
dataset did not code is an empty cell. ``sequence`` is there where the data
has sequences (BP4D's tasks, a lab's recordings). :func:`read_predictions_csv`
reads one back; the paired per-subject comparison of ``auzoo bench`` scores
these files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

PREDICTIONS_CSV = "predictions.csv"


@dataclass
class Predictions:
    logits: Optional[np.ndarray]           # (n, A) float32 occurrence logits, None without that head
    labels: np.ndarray                     # (n, A) 0/1
    mask: np.ndarray                       # (n, A) bool, False = not coded
    index: np.ndarray                      # (n,) dataset rows
    subjects: np.ndarray                   # (n,) subject of each row
    aus: tuple
    intensity: Optional[np.ndarray] = None       # (n, A) predicted 0-5, None without that head
    intensity_true: Optional[np.ndarray] = None  # (n, A) labels 0-5
    intensity_mask: Optional[np.ndarray] = None  # (n, A) bool
    frames: Optional[np.ndarray] = None          # (n,) the index's frame numbers
    sequences: Optional[np.ndarray] = None       # (n,) sequence names, where the data has them

    @property
    def task(self) -> str:
        if self.logits is not None and self.intensity is not None:
            return "both"
        return "intensity" if self.intensity is not None else "occurrence"

    def where(self, dataset) -> "Predictions":
        """Frame numbers and sequences of the rows, from the dataset served."""
        self.frames = np.asarray(dataset.frame)[self.index]
        if "sequence" in dataset.rows.columns:
            self.sequences = dataset.rows["sequence"].to_numpy()[self.index]
        return self


def _au_name(au: int) -> str:
    return f"AU{int(au):02d}"


def _cells(values: np.ndarray, known: np.ndarray) -> pd.arrays.FloatingArray:
    return pd.arrays.FloatingArray(np.where(known, values, 0.0).astype(np.float64), ~known)


def predictions_frame(p: Predictions) -> pd.DataFrame:
    """The table :func:`write_predictions_csv` writes (module docstring)."""
    if p.frames is None:
        raise ValueError("predictions without frame numbers: call Predictions.where(dataset)")
    columns = {"subject": np.asarray(p.subjects, dtype=object)}
    if p.sequences is not None:
        columns["sequence"] = np.asarray(p.sequences, dtype=object)
    columns["frame"] = np.asarray(p.frames, dtype=np.int64)
    everywhere = np.ones(len(p.index), dtype=bool)
    for j, au in enumerate(p.aus):
        name = _au_name(au)
        if p.intensity is not None:
            columns[f"{name}_true"] = _cells(p.intensity_true[:, j], p.intensity_mask[:, j])
            columns[f"{name}_pred"] = _cells(np.clip(p.intensity[:, j], 0, 5), everywhere)
            if p.logits is not None:
                columns[f"{name}_prob"] = _cells(_sigmoid(p.logits[:, j]), everywhere)
        else:
            columns[f"{name}_true"] = _cells(p.labels[:, j].astype(np.float64), p.mask[:, j])
            columns[f"{name}_pred"] = _cells(_sigmoid(p.logits[:, j]), everywhere)
    keys = [k for k in ("subject", "sequence", "frame") if k in columns]
    return pd.DataFrame(columns).sort_values(keys, kind="stable").reset_index(drop=True)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def write_predictions_csv(path, p: Predictions) -> Path:
    """``predictions.csv`` of ``p`` at ``path``, written whole (never half a file)."""
    from auzoo.utils.io import atomic_write

    frame = predictions_frame(p)
    return atomic_write(Path(path), lambda tmp: frame.to_csv(tmp, index=False, float_format="%.9g",
                                                             lineterminator="\n"))


def read_predictions_csv(path) -> pd.DataFrame:
    """A ``predictions.csv`` as written; empty cells (not coded) are NaN."""
    path = Path(path)
    frame = pd.read_csv(path, dtype={"subject": str, "sequence": str})
    if "subject" not in frame or not any(c.endswith("_pred") for c in frame.columns):
        raise ValueError(f"{path}: not an auzoo predictions.csv (no subject / AUnn_pred columns)")
    return frame


def prediction_aus(frame: pd.DataFrame) -> Sequence[int]:
    """The AUs of a predictions table, in its column order."""
    return [int(c[2:-5]) for c in frame.columns if c.startswith("AU") and c.endswith("_pred")]


__all__ = ["PREDICTIONS_CSV", "Predictions", "predictions_frame", "prediction_aus",
           "read_predictions_csv", "write_predictions_csv"]
