"""Typed run records: what to run, and what came out.

:class:`RunSpec` says what one run is (config, data, fold, seed, overrides,
device); :class:`RunResult` is what it produced: :class:`AUScores` (occurrence)
and/or :class:`IntensityScores` on its test subjects (and on other datasets
it was scored on), plus :class:`Provenance`, everything a reader needs to know
what produced the numbers. ``result.json`` is written and read here and
nowhere else, by train, eval, bench and reports.

Occurrence scores are percentages keyed ``'AU1'``, ``'AU12'`` … in the
model's AU order; intensity scores are ICC(3,1) and PCC (-1 to 1) and MAE
(0-5 scale), keyed alike.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

# What a run leaves in its work dir: its result, its settings (a resume
# refuses other ones), the chosen model, and the best epoch's predictions
# while the run goes on.
RESULT_FILE = "result.json"
RUN_FILE = "run.json"
BEST_FILE = "best.pth"
PREDICTIONS_FILE = "best_predictions.npz"
RECORD_VERSION = 2


@dataclass
class RunSpec:
    """One training run: a model config on one fold of one prepared cache."""

    model: str                            # registered name or config file
    data: str                             # prepared cache
    fold: int
    seed: int = 0
    work_dir: Optional[str] = None        # default work_dirs/MODEL/foldK[-seedS]
    preset: Optional[str] = None          # a piece of configs/_base_/presets/ ('cpu_demo'), merged
                                          # over the model config (with its `demo` entry) before cfg_options
    cfg_options: Dict[str, Any] = field(default_factory=dict)  # dotted keys, applied last
    device: Optional[str] = None          # default: cuda where there is one
    resume: bool = True                   # a run found in work_dir resumes (or is returned, finished)
    force: bool = False                   # discard a run found in work_dir and start over
    test_data: Tuple[str, ...] = ()       # other caches to score the chosen model on
    allow_random_init: bool = False       # train frozen stages without a weight file
    label: Optional[str] = None           # how progress names the run
    weights: Optional[Tuple[str, ...]] = None  # score these weights (auzoo's or a published
                                               # model's official files) instead of training


@dataclass
class AUScores:
    """Per-AU F1 and accuracy (percent) of one model on one set of frames."""

    aus: Tuple[int, ...]
    f1: Dict[str, float]
    acc: Dict[str, float]
    frames: int
    counts: Dict[str, Dict[str, int]]     # AU -> tn, fp, fn, tp
    per_subject_f1: Dict[str, Dict[str, Optional[float]]] = field(default_factory=dict)
    baseline_f1: Dict[str, float] = field(default_factory=dict)   # always-present
    baseline_acc: Dict[str, float] = field(default_factory=dict)

    @property
    def f1_mean(self) -> float:
        return float(np.mean(list(self.f1.values())))

    @property
    def acc_mean(self) -> float:
        return float(np.mean(list(self.acc.values())))

    @property
    def baseline_f1_mean(self) -> float:
        return float(np.mean(list(self.baseline_f1.values()))) if self.baseline_f1 else float("nan")

    def to_dict(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out["aus"] = list(self.aus)
        out["f1_mean"], out["acc_mean"] = self.f1_mean, self.acc_mean
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "AUScores":
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["aus"] = tuple(int(a) for a in d["aus"])
        return cls(**kw)


def _mean(values: Mapping[str, Optional[float]]) -> float:
    finite = [v for v in values.values() if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


@dataclass
class IntensityScores:
    """Per-AU ICC(3,1), PCC and MAE of one model on one set of frames, and of
    the zero predictor on the same frames (:mod:`auzoo.engine.intensity_metrics`).
    A value that is undefined (NaN: constant labels or predictions) is None
    and left out of its mean."""

    aus: Tuple[int, ...]
    icc: Dict[str, Optional[float]]
    pcc: Dict[str, Optional[float]]
    mae: Dict[str, Optional[float]]
    frames: Dict[str, int]                 # coded frames scored per AU
    per_subject_icc: Dict[str, Dict[str, Optional[float]]] = field(default_factory=dict)
    baseline_icc: Dict[str, Optional[float]] = field(default_factory=dict)   # predicting 0
    baseline_pcc: Dict[str, Optional[float]] = field(default_factory=dict)
    baseline_mae: Dict[str, Optional[float]] = field(default_factory=dict)

    @property
    def icc_mean(self) -> float:
        return _mean(self.icc)

    @property
    def pcc_mean(self) -> float:
        return _mean(self.pcc)

    @property
    def mae_mean(self) -> float:
        return _mean(self.mae)

    def baseline_mean(self, metric: str) -> float:
        return _mean(getattr(self, f"baseline_{metric}"))

    def to_dict(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out["aus"] = list(self.aus)
        out.update(icc_mean=self.icc_mean, pcc_mean=self.pcc_mean, mae_mean=self.mae_mean)
        return _finite(out)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "IntensityScores":
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["aus"] = tuple(int(a) for a in d["aus"])
        return cls(**kw)


def _finite(obj: Any) -> Any:
    """NaN -> None (JSON has no NaN)."""
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


@dataclass
class Provenance:
    """What produced a result. ``extra`` holds what a plugin or recipe adds."""

    model: str
    config: str                           # the resolved config, as text
    dataset: str                          # registered dataset name of the training data
    data: str
    data_checksum: str
    protocol: Dict[str, Any]              # the dataset's describe(): AUs, threshold, folds …
    fold: Optional[int]
    train_subjects: List[str]
    val_subjects: List[str]
    test_subjects: List[str]
    bad_frames: str
    select_on: str
    seed: int
    img_size: int
    schedule: Dict[str, Any]              # optimizer, lr schedule, batch, epochs, patience, val_begin …
    precision: Dict[str, str]             # {'train': 'bf16 autocast', 'eval': 'fp32'}
    backbone_init: Dict[str, Any]         # {'weights': file name, 'sha256': …} or {'weights': 'random'}
    versions: Dict[str, str]
    device: str
    world_size: int = 1
    preset: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Training:
    """How the training went."""

    best_epoch: int
    epochs: int
    iters: int
    stopped_early: bool
    selection_f1_mean: float              # the score the epoch was chosen by (named by selected_by)
    train_time: float                     # seconds, summed over resumes
    eval_time: float
    params: int
    trainable_params: int
    checkpoint: str
    selected_by: str = "f1_mean"           # the validation score the epoch was chosen by


@dataclass
class RunResult:
    """One (model, fold, seed) result: scores on the test subjects (``scores``
    for occurrence, ``intensity`` for intensity; a model that predicts one has
    None for the other), scores on other datasets (key: the cache path),
    provenance and training. ``where`` is the file it was read from."""

    scores: Optional[AUScores]
    provenance: Provenance
    training: Optional[Training] = None
    cross: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # data -> {'scores':…, 'dataset', 'shared_aus', 'left_out'…}
    intensity: Optional[IntensityScores] = None
    version: int = RECORD_VERSION
    where: Optional[Path] = field(default=None, compare=False, repr=False)

    # The flat keys older readers used stay readable: r.model, r.fold, r.f1_mean …
    def __getattr__(self, name: str):
        if name in ("scores", "provenance", "training", "intensity", "where"):
            raise AttributeError(name)
        for part in (self.provenance, self.scores, self.training):
            if part is not None and hasattr(part, name):
                return getattr(part, name)
        raise AttributeError(f"RunResult has no {name!r}")

    @property
    def task(self) -> str:
        if self.scores is not None and self.intensity is not None:
            return "both"
        return "intensity" if self.intensity is not None else "occurrence"

    def to_dict(self) -> Dict[str, Any]:
        return dict(version=self.version,
                    scores=self.scores.to_dict() if self.scores is not None else None,
                    intensity=self.intensity.to_dict() if self.intensity is not None else None,
                    provenance=dataclasses.asdict(self.provenance),
                    training=dataclasses.asdict(self.training) if self.training else None,
                    cross=_finite(_plain(self.cross)))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RunResult":
        if d.get("version") != RECORD_VERSION:
            raise ValueError(f"result record version {d.get('version')!r}, expected {RECORD_VERSION}")
        if d.get("scores") is None and d.get("intensity") is None:
            raise KeyError("scores")
        prov_names = {f.name for f in dataclasses.fields(Provenance)}
        return cls(scores=AUScores.from_dict(d["scores"]) if d.get("scores") else None,
                   intensity=IntensityScores.from_dict(d["intensity"]) if d.get("intensity") else None,
                   provenance=Provenance(**{k: v for k, v in d["provenance"].items() if k in prov_names}),
                   training=Training(**d["training"]) if d.get("training") else None,
                   cross=dict(d.get("cross") or {}))

    def write(self, path) -> Path:
        from auzoo.utils.io import atomic_write_text

        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2))

    @classmethod
    def read(cls, path) -> "RunResult":
        path = Path(path)
        try:
            result = cls.from_dict(json.loads(path.read_text()))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: not an auzoo result record ({exc})") from exc
        result.where = path
        return result


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return obj.to_dict() if hasattr(obj, "to_dict") else dataclasses.asdict(obj)
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def read_result(path) -> Optional[RunResult]:
    """The record at ``path``, or None where there is none yet."""
    path = Path(path)
    return RunResult.read(path) if path.is_file() else None


__all__ = ["AUScores", "BEST_FILE", "IntensityScores", "PREDICTIONS_FILE", "Provenance",
           "RESULT_FILE", "RUN_FILE", "RunResult", "RunSpec",
           "Training", "read_result"]
