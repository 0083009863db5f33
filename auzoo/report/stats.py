"""Paired comparison of models over test subjects (and seeds), with bootstrap CIs.

Each subject is a test subject of exactly one fold, so every model scores it
once per seed. The unit of the comparison is the subject: per subject, the
difference of the two models' F1 (over the AUs the subject shows), averaged
over the seeds both models ran; then the mean over subjects with a percentile
bootstrap 95% CI that resamples subjects. Seeds thus reduce the training noise
of each subject's difference without being counted as independent subjects.
"""
from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np
import pandas as pd

from auzoo.engine.records import RunResult

COLUMNS = ["model_a", "model_b", "subjects", "seeds", "mean_f1_a", "mean_f1_b", "diff",
           "ci_low", "ci_high"]


def _subject_f1(scores) -> float:
    if not scores:
        return np.nan
    if scores.get("mean") is not None:
        return float(scores["mean"])
    values = [v for k, v in scores.items() if k.startswith("AU") and v is not None]
    return float(np.mean(values)) if values else np.nan


def per_subject_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """Mean F1 (over the AUs the subject shows) per model, seed and test subject."""
    rows = [dict(model=r.provenance.model, fold=r.provenance.fold, seed=r.provenance.seed,
                 subject=subject, f1=_subject_f1(scores))
            for r in results for subject, scores in r.scores.per_subject_f1.items()]
    return pd.DataFrame(rows, columns=["model", "fold", "seed", "subject", "f1"])


def paired_comparison(per_subject: pd.DataFrame, n_resamples: int = 10000,
                      seed: int = 0) -> pd.DataFrame:
    """For every pair of models: mean per-subject F1 difference A − B and its
    bootstrap 95% CI over subjects (scipy.stats.bootstrap, percentile)."""
    from scipy.stats import bootstrap

    if "seed" not in per_subject:
        per_subject = per_subject.assign(seed=0)
    table = per_subject.pivot_table(index=["subject", "seed"], columns="model", values="f1")
    rows = []
    for a, b in itertools.combinations(list(dict.fromkeys(per_subject["model"])), 2):
        pair = table[[a, b]].dropna()
        by_subject = pair.groupby(level="subject").mean()
        diff = (by_subject[a] - by_subject[b]).to_numpy(float)
        n = len(diff)
        row = dict(model_a=a, model_b=b, subjects=n,
                   seeds=pair.index.get_level_values("seed").nunique(),
                   mean_f1_a=float(by_subject[a].mean()) if n else np.nan,
                   mean_f1_b=float(by_subject[b].mean()) if n else np.nan,
                   diff=float(diff.mean()) if n else np.nan, ci_low=np.nan, ci_high=np.nan)
        if n >= 2 and np.ptp(diff) > 0:
            ci = bootstrap((diff,), np.mean, n_resamples=n_resamples, confidence_level=0.95,
                           method="percentile", rng=np.random.default_rng(seed)).confidence_interval
            row.update(ci_low=float(ci.low), ci_high=float(ci.high))
        elif n >= 1:
            row.update(ci_low=row["diff"], ci_high=row["diff"])
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def verdict(row) -> str:
    if np.isnan(row["ci_low"]):
        return "too few subjects"
    if row["ci_low"] > 0:
        return f"{row['model_a']} better"
    if row["ci_high"] < 0:
        return f"{row['model_b']} better"
    return "no clear difference"
