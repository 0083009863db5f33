"""The table ``auzoo predict`` writes: one row per face per frame, and the
``OUT.partial`` files that let an interrupted run resume.

Per AU, as OpenFace names them: ``AUxx_r`` the intensity on FACS's 0-5
scale (0 absent, 1-5 = A-E; a real number, the model's reading, not a
rounded level) from a model with an intensity head; ``AUxx_prob``
P(present) and ``AUxx_c`` presence (``_prob`` >= 0.5) from a model with an
occurrence head. A model with both heads writes all three."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np
import pandas as pd

from auzoo.utils.io import atomic_write_text
from auzoo.vision.faces import Face

log = logging.getLogger("auzoo.inference")

FRAME_COLUMNS = ("file", "frame", "timestamp", "face_id", "success",
                 "face_x", "face_y", "face_w", "face_h", "confidence")


def prediction_columns(aus: Sequence[int], task: str = "occurrence") -> list:
    """``AU01_r … AU26_r`` (intensity), then ``AU01_prob … AU26_prob`` and
    ``AU01_c … AU26_c`` (occurrence), grouped as OpenFace groups ``_r`` and ``_c``."""
    intensity = [f"AU{au:02d}_r" for au in aus] if task in ("intensity", "both") else []
    occurrence = ([f"AU{au:02d}_prob" for au in aus] + [f"AU{au:02d}_c" for au in aus]
                  if task in ("occurrence", "both") else [])
    return intensity + occurrence


@dataclass
class Row:
    """One output row while it travels through the pipeline."""

    source: int
    file: str
    frame: Optional[int]
    timestamp: float
    face: Optional[Face] = None
    aligned: Optional[np.ndarray] = None   # (S, S, 3) uint8 while waiting for the model
    points: Optional[np.ndarray] = None    # (66, 2) aligned landmarks
    probs: Optional[np.ndarray] = None
    new_frame: bool = True                 # first row of its frame (progress counts frames)
    intensity: Optional[np.ndarray] = None  # 0-5, from a model with an intensity head

    @property
    def waiting(self) -> bool:
        return self.aligned is not None and self.probs is None and self.intensity is None


def _nullable(values: np.ndarray, missing: np.ndarray, dtype) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(values.astype(dtype), missing.astype(bool))


def rows_to_table(rows: Sequence[Row], aus: Sequence[int], task: str = "occurrence") -> pd.DataFrame:
    n = len(rows)
    box = np.full((n, 4), np.nan)
    probs = np.full((n, len(aus)), np.nan, dtype=np.float32)
    intensity = np.full((n, len(aus)), np.nan, dtype=np.float32)
    confidence = np.full(n, np.nan)
    face_id = np.full(n, -1)
    frame = np.array([-1 if r.frame is None else r.frame for r in rows], dtype=np.int64)
    for i, row in enumerate(rows):
        if row.face is not None:
            box[i] = row.face.box
            confidence[i] = row.face.confidence
            face_id[i] = row.face.face_id
        if row.probs is not None:
            probs[i] = row.probs
        if row.intensity is not None:
            intensity[i] = row.intensity
    occurrence = task in ("occurrence", "both")
    scored = ~np.isnan(probs if occurrence else intensity)
    columns: Dict[str, Any] = {
        "file": [r.file for r in rows],
        "frame": _nullable(frame, frame < 0, np.int64),
        "timestamp": np.array([r.timestamp for r in rows], dtype=np.float64),
        "face_id": _nullable(face_id, face_id < 0, np.int64),
        "success": scored.all(axis=1).astype(np.int8) if len(aus) else np.zeros(n, np.int8),
        "face_x": box[:, 0], "face_y": box[:, 1], "face_w": box[:, 2], "face_h": box[:, 3],
        "confidence": confidence,
    }
    if task in ("intensity", "both"):
        for j, au in enumerate(aus):
            columns[f"AU{au:02d}_r"] = intensity[:, j]
    if occurrence:
        for j, au in enumerate(aus):
            columns[f"AU{au:02d}_prob"] = probs[:, j]
        for j, au in enumerate(aus):
            columns[f"AU{au:02d}_c"] = _nullable(probs[:, j] >= 0.5, ~scored[:, j], np.int8)
    return pd.DataFrame(columns)


# ---------------------------------------------------------------- OpenFace 2.x

FORMATS = ("auzoo", "openface")
OPENFACE_FRAME_COLUMNS = ("frame", "face_id", "timestamp", "confidence", "success")
# The logistic slope that maps the detector's score to OpenFace's 0-1 confidence.
CONFIDENCE_SLOPE = 2.0


def openface_confidence(score) -> np.ndarray:
    """The detector's score as a confidence in 0-1: ``1 / (1 + exp(-2 score))``.

    dlib's HOG detector scores a window by its SVM margin (0 at the decision
    boundary, real faces about 1-3); the logistic of twice the margin puts the
    boundary at 0.5, the default ``--face-threshold`` 0.3 at 0.65, a margin of
    0.7 at 0.8 and the usual 1.3-1.9 of a clear face at 0.93-0.98, so an
    OpenFace-style ``confidence > 0.8`` keeps clear faces."""
    return 1.0 / (1.0 + np.exp(-CONFIDENCE_SLOPE * np.asarray(score, dtype=np.float64)))


def openface_table(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (auzoo's table) in OpenFace 2.x's columns, order and conventions.

    ``frame, face_id, timestamp, confidence, success``, then ``AUxx_r`` for
    every AU the table has an intensity for (sorted), then ``AUxx_c`` (sorted):
    frames count from 1 (a still image is frame 1 at timestamp 0), confidence
    is :func:`openface_confidence`, and a row without a scored face has
    ``success = 0`` and zeros, as OpenFace writes them. A table of several
    input files keeps ``file`` as its last column."""
    success = df["success"].astype(int).to_numpy() if len(df) else np.zeros(0, int)
    frame = df["frame"].astype("Float64").fillna(0).to_numpy(dtype=np.float64)
    out = {
        "frame": (frame + 1).astype(np.int64),
        "face_id": df["face_id"].astype("Float64").fillna(0).to_numpy(dtype=np.float64).astype(np.int64),
        "timestamp": df["timestamp"].astype(float).fillna(0.0).to_numpy(),
        "confidence": np.where(success > 0, openface_confidence(
            df["confidence"].astype(float).fillna(0.0).to_numpy()), 0.0),
        "success": success,
    }
    intensity = sorted(c for c in df.columns if c.startswith("AU") and c.endswith("_r"))
    presence = sorted(c for c in df.columns if c.startswith("AU") and c.endswith("_c"))
    for column in intensity:
        out[column] = df[column].astype(float).fillna(0.0).to_numpy()
    for column in presence:
        out[column] = df[column].astype("Float64").fillna(0).to_numpy(dtype=np.float64).astype(np.int64)
    table = pd.DataFrame(out)
    if "file" in df and df["file"].nunique() > 1:
        table["file"] = df["file"].to_numpy()
    return table


def write_openface(df: pd.DataFrame, path) -> None:
    """OpenFace's CSV: its columns, with OpenFace's ``", "`` between fields."""
    table = openface_table(df)
    lines = [", ".join(table.columns)]
    floats = {"timestamp": "{:.3f}", "confidence": "{:.2f}"}
    formats = [floats.get(c, "{:.2f}" if c.endswith("_r") else "{}") for c in table.columns]
    for row in table.itertuples(index=False):
        lines.append(", ".join(f.format(v) for f, v in zip(formats, row)))
    text = "\n".join(lines) + "\n"
    if hasattr(path, "write"):
        path.write(text)
    else:
        Path(path).write_text(text)


def write_table(df: pd.DataFrame, path, format: str = "auzoo") -> None:
    """The table in auzoo's format or OpenFace's (:data:`FORMATS`)."""
    if format not in FORMATS:
        raise ValueError(f"format {format!r}: choose one of {', '.join(FORMATS)}")
    (write_openface if format == "openface" else write_csv)(df, path)


_DTYPES = {"file": str, "frame": "Int64", "face_id": "Int64", "success": "int8"}


def read_table(path: Path, aus: Sequence[int]) -> pd.DataFrame:
    dtypes = dict(_DTYPES, **{f"AU{au:02d}_c": "Int8" for au in aus})
    return pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])


def write_csv(df: pd.DataFrame, path, header: bool = True, mode: str = "w") -> None:
    df.to_csv(path, index=False, header=header, mode=mode, float_format="%.6f",
              lineterminator="\n")


def file_key(path: Path) -> Dict[str, Any]:
    stat = path.stat()
    return {"file": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class Resume:
    """Finished input files of an interrupted run writing ``out``.

    ``OUT.partial`` holds the rows of finished files, ``OUT.partial.json``
    the run's settings and which files are finished (with their size and
    modification time, so a changed input is read again).
    """

    def __init__(self, out: Path, settings: Dict[str, Any], aus: Sequence[int],
                 task: str = "occurrence"):
        self.out = out
        self.task = task
        self.rows_path = out.with_name(out.name + ".partial")
        self.state_path = out.with_name(out.name + ".partial.json")
        self.settings = settings
        self.aus = aus
        self.done: Dict[str, Dict[str, Any]] = {}
        self.previous = None
        if self.state_path.is_file() and self.rows_path.is_file():
            state = json.loads(self.state_path.read_text())
            if state.get("settings") == settings:
                self.done = {d["file"]: d for d in state.get("done", [])}
                self.previous = read_table(self.rows_path, aus)
            else:
                log.warning("%s: left by a run with other settings; starting over", self.rows_path)
        if not self.done:
            self.rows_path.unlink(missing_ok=True)
            self._save()

    def finished(self, source) -> bool:
        done = self.done.get(source.name)
        return done is not None and done == file_key(source.path)

    def add(self, source, table: pd.DataFrame) -> None:
        new = not self.rows_path.exists()
        write_csv(table, self.rows_path, header=new, mode="a")
        self.done[source.name] = file_key(source.path)
        self._save()

    def _save(self) -> None:
        atomic_write_text(self.state_path, json.dumps(
            {"settings": self.settings, "done": list(self.done.values())}, indent=1))

    def finish(self) -> None:
        self.rows_path.unlink(missing_ok=True)
        self.state_path.unlink(missing_ok=True)


__all__ = ["FORMATS", "FRAME_COLUMNS", "OPENFACE_FRAME_COLUMNS", "Resume", "Row", "prediction_columns",
           "file_key", "openface_confidence", "openface_table", "read_table", "rows_to_table",
           "write_csv", "write_openface", "write_table"]
