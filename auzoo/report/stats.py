"""Paired comparison of models over test subjects (and seeds), with bootstrap CIs.

Each subject is a test subject of exactly one fold, so every model scores it
once per seed. The unit of the comparison is the subject: per subject, the
difference of the two models' score (F1 for occurrence, ICC(3,1) for
intensity, over the AUs the subject shows; from each run's
``predictions.csv``, :mod:`auzoo.report.per_subject`), averaged over the
seeds both models ran; then the mean over subjects with a percentile
bootstrap 95% CI that resamples subjects. Seeds thus reduce the training noise
of each subject's difference without being counted as independent subjects.
"""
from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np
import pandas as pd

from auzoo.engine.records import RunResult

def columns(value: str = "f1") -> list:
    return ["model_a", "model_b", "subjects", "seeds", f"mean_{value}_a", f"mean_{value}_b",
            "diff", "ci_low", "ci_high"]


COLUMNS = columns("f1")


def per_subject_table(results: Sequence[RunResult], metric: str = "f1") -> pd.DataFrame:
    """Per model, seed and test subject, the subject's mean ``metric`` ('f1'
    or 'icc') over the AUs it shows; runs that do not score ``metric`` are left out."""
    from auzoo.report.per_subject import per_subject_scores

    rows = [dict(model=r.provenance.model, fold=r.provenance.fold, seed=r.provenance.seed,
                 subject=subject, **{metric: value})
            for r in results for subject, value in per_subject_scores(r, metric).items()]
    return pd.DataFrame(rows, columns=["model", "fold", "seed", "subject", metric])


def paired_comparison(per_subject: pd.DataFrame, n_resamples: int = 10000,
                      seed: int = 0, value: str = "f1") -> pd.DataFrame:
    """For every pair of models: mean per-subject ``value`` (F1, ICC) difference
    A − B and its bootstrap 95% CI over subjects (scipy.stats.bootstrap, percentile)."""
    from scipy.stats import bootstrap

    if "seed" not in per_subject:
        per_subject = per_subject.assign(seed=0)
    table = per_subject.pivot_table(index=["subject", "seed"], columns="model", values=value)
    rows = []
    for a, b in itertools.combinations(list(dict.fromkeys(per_subject["model"])), 2):
        pair = table.reindex(columns=[a, b]).dropna()
        by_subject = pair.groupby(level="subject").mean()
        diff = (by_subject[a] - by_subject[b]).to_numpy(float)
        n = len(diff)
        row = {"model_a": a, "model_b": b, "subjects": n,
               "seeds": pair.index.get_level_values("seed").nunique(),
               f"mean_{value}_a": float(by_subject[a].mean()) if n else np.nan,
               f"mean_{value}_b": float(by_subject[b].mean()) if n else np.nan,
               "diff": float(diff.mean()) if n else np.nan, "ci_low": np.nan, "ci_high": np.nan}
        if n >= 2 and np.ptp(diff) > 0:
            ci = bootstrap((diff,), np.mean, n_resamples=n_resamples, confidence_level=0.95,
                           method="percentile", rng=np.random.default_rng(seed)).confidence_interval
            row.update(ci_low=float(ci.low), ci_high=float(ci.high))
        elif n >= 1:
            row.update(ci_low=row["diff"], ci_high=row["diff"])
        rows.append(row)
    return pd.DataFrame(rows, columns=columns(value))


def verdict(row) -> str:
    if np.isnan(row["ci_low"]):
        return "too few subjects"
    if row["ci_low"] > 0:
        return f"{row['model_a']} better"
    if row["ci_high"] < 0:
        return f"{row['model_b']} better"
    return "no clear difference"
