"""Intensity reports: ``intensity_results.csv`` and the intensity sections of
``results.md``, from the results of models that predict intensity.

Per AU: ICC(3,1), PCC and MAE (0-5), each model's mean over folds (and ±
std over seeds), the zero predictor on the same frames beside every table
(its ICC is 0 and its MAE the mean label: a low MAE alone says little, most
frames being 0), the registered published intensity rows of the dataset with
the protocol each was measured under, per-fold means and the paired
comparison on per-subject ICC.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from auzoo.engine.records import RunResult
from auzoo.report.published_intensity import METRIC_NAMES, published_intensity_rows
from auzoo.report.tables import MEAN, mean_rows, model_means, ordered, provenance_columns, sort_key

ZERO = "zero predictor"
METRICS = ("icc", "pcc", "mae")


def intensity_columns(scores) -> Dict[str, float]:
    row: Dict[str, float] = {}
    for metric in METRICS:
        values = getattr(scores, metric)
        row.update({f"{metric}_{au}": np.nan if v is None else float(v) for au, v in values.items()})
        row[f"{metric}_mean"] = getattr(scores, f"{metric}_mean")
    return row


def _zero_rows(results: Sequence[RunResult]) -> List[Dict[str, Any]]:
    """The zero predictor per fold (it depends only on the fold's test frames) and its mean."""
    by_fold: Dict[int, Dict[str, Any]] = {}
    for r in results:
        s, p = r.intensity, r.provenance
        if p.fold in by_fold or not s.baseline_mae:
            continue
        row: Dict[str, Any] = dict(model=ZERO, fold=str(p.fold), seed="")
        for metric in METRICS:
            values = getattr(s, f"baseline_{metric}")
            row.update({f"{metric}_{au}": np.nan if v is None else v for au, v in values.items()})
            row[f"{metric}_mean"] = s.baseline_mean(metric)
        row.update(frames=max(s.frames.values(), default=0), dataset=p.dataset, folds=str(p.fold),
                   test_subjects=" ".join(p.test_subjects), data_checksum=p.data_checksum)
        by_fold[p.fold] = row
    if not by_fold:
        return []
    rows = [by_fold[f] for f in sorted(by_fold)]
    scores = [c for c in rows[0] if c.startswith(tuple(f"{m}_" for m in METRICS))]
    mean = pd.DataFrame(rows)[scores].mean()
    return rows + [dict(model=ZERO, fold=MEAN, seed="", **mean.to_dict(),
                        folds=",".join(str(f) for f in sorted(by_fold)),
                        frames=int(sum(r["frames"] for r in rows)), dataset=rows[0]["dataset"])]


def intensity_frame(results: Sequence[RunResult]) -> pd.DataFrame:
    """intensity_results.csv: a row per model x fold x seed, the mean rows
    (mean over folds per seed, then mean ± std over seeds), the zero predictor."""
    results = sorted((r for r in results if r.intensity is not None), key=sort_key)
    rows: List[Dict[str, Any]] = []
    for name in dict.fromkeys(r.provenance.model for r in results):
        own = []
        for r in (r for r in results if r.provenance.model == name):
            row = dict(model=name, fold=str(r.provenance.fold), seed=str(r.provenance.seed))
            row.update(intensity_columns(r.intensity))
            row.update(provenance_columns(r, frames=max(r.intensity.frames.values(), default=0)))
            own.append(row)
        rows.extend(own)
        rows.extend(mean_rows(name, own, per_seed=len({r["seed"] for r in own}) > 1))
    rows.extend(_zero_rows(results))
    return ordered(pd.DataFrame(rows)) if rows else pd.DataFrame()


def _aus(frame: pd.DataFrame) -> List[str]:
    aus = {c[4:] for c in frame.columns if c.startswith("icc_AU") and not c.endswith("_std")}
    return sorted(aus, key=lambda a: int(a[2:]))


def _fmt(x, digits: int = 3, std=None) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "–"
    text = f"{x:.{digits}f}"
    if std is not None and not (isinstance(std, float) and np.isnan(std)):
        text += f" ± {std:.{digits}f}"
    return text


def metric_table(means: pd.DataFrame, metric: str, aus: List[str]) -> List[str]:
    """One model per row (mean ± std over seeds), the zero predictor last."""
    lines = ["| model | " + " | ".join(aus) + " | mean |", "|---|" + "---:|" * (len(aus) + 1)]
    for name in [m for m in means.index if m != ZERO] + ([ZERO] if ZERO in means.index else []):
        row = means.loc[name]
        cells = [_fmt(row.get(f"{metric}_{au}"), std=row.get(f"{metric}_{au}_std")) for au in aus]
        mean = _fmt(row.get(f"{metric}_mean"), std=row.get(f"{metric}_mean_std"))
        label = f"*{name}*" if name == ZERO else f"**{name}**"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | **{mean}** |")
    return lines


def published_section(dataset: str) -> List[str]:
    rows = published_intensity_rows(dataset)
    if not rows:
        return [f"No published intensity result on {dataset} is registered.", ""]
    lines = [f"## Published intensity results on {dataset.upper()} (other protocols)", "",
             "Reference points, not comparisons: each was measured on its own split, listed "
             "beside it.", "",
             "| method | metric | AUs | mean | source | protocol |", "|---|---|---|---:|---|---|"]
    for r in rows:
        per_au = (", ".join(f"AU{a} {v:.3f}" for a, v in zip(r.aus, r.values))
                  if r.values is not None else ", ".join(map(str, r.aus)))
        lines.append(f"| {r.method} | {METRIC_NAMES[r.metric]} | {per_au} | {r.average:.3f} | "
                     f"{r.citation}: {r.source} | {r.protocol}"
                     + (f" ({r.notes})" if r.notes else "") + " |")
    return lines + [""]


def fold_table(frame: pd.DataFrame) -> List[str]:
    runs = frame[(frame["fold"] != MEAN) & (frame["model"] != ZERO)]
    folds = sorted(runs["fold"].unique(), key=int)
    lines = ["| model | " + " | ".join(f"fold {f}" for f in folds) + " | mean | seeds | "
             "best epochs | wall time (s) |", "|---|" + "---:|" * (len(folds) + 4)]
    means = model_means(frame)
    for name, own in runs.groupby("model", sort=False):
        per_fold = own.groupby("fold")["icc_mean"].mean()
        epochs = ", ".join(str(int(e)) for e in own["best_epoch"].dropna())
        row = means.loc[name]
        lines.append(f"| {name} | " + " | ".join(_fmt(per_fold.get(f)) for f in folds)
                     + f" | {_fmt(row['icc_mean'], std=row.get('icc_mean_std'))} | "
                     f"{own['seed'].nunique()} | {epochs or '–'} | "
                     f"{own['wall_time_s'].sum():.0f} |")
    return lines


def comparison_lines(comparison: Optional[pd.DataFrame]) -> List[str]:
    from auzoo.report.stats import verdict

    if comparison is None or not len(comparison):
        return []
    lines = ["## Paired comparison over test subjects (ICC)", "",
             "Per-subject mean ICC(3,1) (over the AUs whose intensity varies for the subject, "
             "from each run's predictions.csv), difference A − B averaged over the seeds both "
             "models ran, then the mean over subjects with a percentile bootstrap 95% CI "
             "(10,000 resamples of subjects).", "",
             "| A | B | subjects | seeds | ICC A | ICC B | A − B | 95% CI | |",
             "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for _, row in comparison.iterrows():
        lines.append(f"| {row['model_a']} | {row['model_b']} | {row['subjects']} | {row['seeds']} | "
                     f"{_fmt(row['mean_icc_a'])} | {_fmt(row['mean_icc_b'])} | "
                     f"{row['diff']:+.3f} | [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}] | "
                     f"{verdict(row)} |")
    return lines + [""]


def intensity_sections(frame: pd.DataFrame, results: Sequence[RunResult],
                       comparison: Optional[pd.DataFrame] = None) -> List[str]:
    """The intensity part of results.md."""
    results = [r for r in results if r.intensity is not None]
    means = model_means(frame)
    aus = _aus(frame)
    protocol = (results[0].provenance.protocol or {}).get("intensity") or {}
    lines = ["## AU intensity: ICC(3,1), PCC, MAE", "",
             f"Intensity on the FACS scale {protocol.get('scale', '0-5')}; "
             f"{protocol.get('reference', '')}. Per AU over every coded test frame of a fold "
             "(predictions clipped to 0-5; labels not coded left out), then the mean over folds; "
             "the zero predictor (intensity 0 everywhere) scored on the same frames. PCC is "
             "undefined (–) where the labels or predictions of an AU are constant; means leave "
             "such AUs out.", ""]
    for metric, title in (("icc", "ICC(3,1)"), ("pcc", "PCC"), ("mae", "MAE (0-5, lower is better)")):
        lines += [f"### {title}", ""] + metric_table(means, metric, aus) + [""]
    lines += ["### Per fold (mean ICC over AUs, mean over seeds)", ""] + fold_table(frame) + [""]
    lines += published_section(results[0].provenance.dataset)
    lines += comparison_lines(comparison)
    return lines


def intensity_console_table(frame: pd.DataFrame, title: str = ""):
    """ICC(3,1) per AU (one AU a row, one model a column, so that twelve AUs
    fit a terminal), then the mean ICC, PCC and MAE; the zero predictor last."""
    from rich.table import Table

    means = model_means(frame)
    models = [m for m in means.index if m != ZERO] + ([ZERO] if ZERO in means.index else [])
    table = Table(title=title or "ICC(3,1) per AU, mean over folds", box=None,
                  padding=(0, 0, 0, 2), header_style="bold underline")
    table.add_column("", no_wrap=True)
    for name in models:
        table.add_column(str(name), justify="right", style="dim" if name == ZERO else None)
    for au in _aus(frame):
        table.add_row(f"ICC {au}", *(_fmt(means.loc[m].get(f"icc_{au}")) for m in models))
    for metric in METRICS:
        table.add_row(f"{metric.upper()} mean", *(_fmt(means.loc[m].get(f"{metric}_mean"))
                                                  for m in models), style="bold")
    return table


__all__ = ["METRICS", "ZERO", "intensity_console_table", "intensity_frame", "intensity_sections",
           "metric_table", "published_section"]
