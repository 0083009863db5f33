"""results.md: per-AU F1 and accuracy beside the row published for each model,
per-fold means, cross-dataset scores, the paired comparison and provenance."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from auzoo.engine.records import RunResult
from auzoo.report.stats import verdict
from auzoo.report.tables import BASELINE, MEAN, scored_aus, model_means

SYNTHETIC_NOTE = ("> **Synthetic data.** These numbers come from auzoo's synthetic data (drawn "
                  "faces). They show that training works; they say nothing about the real "
                  "dataset, so no difference to published numbers is given.")


def fmt(x, digits: int = 1, signed: bool = False) -> str:
    """``x`` with ``digits`` decimals; never ``-0.0``: a value that rounds to
    zero is ``0.0``, or shown with one more digit when its sign matters."""
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "–"
    x = float(x)
    if round(x, digits) == 0:
        if x == 0 or not signed:
            return f"{0.0:.{digits}f}"
        digits += 1
        if round(x, digits) == 0:
            return f"{0.0:.{digits - 1}f}"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def fmt_std(row: Mapping[str, Any], col: str) -> str:
    value, std = row.get(col, np.nan), row.get(f"{col}_std", np.nan)
    if std is None or (isinstance(std, float) and np.isnan(std)):
        return fmt(value)
    return f"{fmt(value)} ± {fmt(std)}"


def score_table(means: pd.DataFrame, kind: str, aus: List[str], published: Mapping[str, Any],
                synthetic: bool) -> List[str]:
    """One model per row (mean ± std over seeds), its own published row under it,
    the difference on real data, and the always-present baseline."""
    lines = ["| model | " + " | ".join(aus) + " | Avg |", "|---|" + "---:|" * (len(aus) + 1)]
    for name in [m for m in means.index if m != BASELINE]:
        row = means.loc[name]
        seeds = int(row.get("n_seeds", 1) or 1)
        label = f"**{name}** (this run{f', {seeds} seeds' if seeds > 1 else ''})"
        lines.append(f"| {label} | " + " | ".join(fmt_std(row, f"{kind}_{au}") for au in aus)
                     + f" | **{fmt_std(row, f'{kind}_mean')}** |")
        pub = published.get(name)
        values = None if pub is None else (pub.f1 if kind == "f1" else pub.acc)
        if values is None:
            continue
        theirs = dict(zip((f"AU{a}" for a in pub.aus), values))
        avg = pub.average if kind == "f1" else pub.acc_avg
        lines.append(f"| {pub.method}, published ({pub.source}) | "
                     + " | ".join(fmt(theirs.get(au)) for au in aus) + f" | {fmt(avg)} |")
        if not synthetic:
            diffs = [row.get(f"{kind}_{au}") - theirs[au] if au in theirs else None for au in aus]
            same = set(theirs) == {au for au in aus if not pd.isna(row.get(f"{kind}_{au}"))}
            avg_diff = row[f"{kind}_mean"] - float(np.mean(values)) if same else None
            lines.append("| difference | " + " | ".join(fmt(d, signed=True) for d in diffs)
                         + f" | {fmt(avg_diff, signed=True)} |")
    if BASELINE in means.index:
        row = means.loc[BASELINE]
        lines.append("| *always present (baseline)* | "
                     + " | ".join(fmt(row.get(f"{kind}_{au}")) for au in aus)
                     + f" | *{fmt(row[f'{kind}_mean'])}* |")
    return lines


def fold_table(frame: pd.DataFrame) -> List[str]:
    runs = frame[(frame["fold"] != MEAN) & (frame["model"] != BASELINE)]
    folds = sorted(runs["fold"].unique(), key=int)
    lines = ["| model | " + " | ".join(f"fold {f}" for f in folds)
             + " | mean | seeds | best epochs | wall time (s) |",
             "|---|" + "---:|" * (len(folds) + 4)]
    means = model_means(frame)
    for name, own in runs.groupby("model", sort=False):
        per_fold = own.groupby("fold")["f1_mean"].mean()
        epochs = ", ".join(str(int(e)) for e in own["best_epoch"].dropna())
        lines.append(f"| {name} | " + " | ".join(fmt(per_fold.get(f)) for f in folds)
                     + f" | {fmt_std(means.loc[name], 'f1_mean')} | {own['seed'].nunique()} | "
                     f"{epochs or '–'} | {fmt(own['wall_time_s'].sum(), 0)} |")
    return lines


def cross_section(cross: pd.DataFrame) -> List[str]:
    """Scores of the models trained here on other datasets, on the AUs both share."""
    if cross is None or not len(cross):
        return []
    lines = ["## Cross-dataset scores (`--test-data`)", "",
             "Each model trained on this folder's data (every fold and seed) and scored on "
             "every subject of another dataset, on the AUs both share.", ""]
    means = cross[cross["fold"] == MEAN]
    for data, group in means.groupby("scored_data", sort=False):
        aus = [au for au in scored_aus(group) if group[f"f1_{au}"].notna().any()]
        first = group.iloc[0]
        lines += [f"### Scored on {first['scored_on']} (`{data}`)", "",
                  "| model | " + " | ".join(aus) + " | Avg | always present |",
                  "|---|" + "---:|" * (len(aus) + 2)]
        for _, row in group.iterrows():
            lines.append(f"| {row['model']} | " + " | ".join(fmt_std(row, f"f1_{au}") for au in aus)
                         + f" | **{fmt_std(row, 'f1_mean')}** | {fmt(row['baseline_f1_mean'])} |")
        left = [f"{row['model']}: model only {row['left_out_model_only'] or '–'}, "
                f"data only {row['left_out_data_only'] or '–'}" for _, row in group.iterrows()
                if row["left_out_model_only"] or row["left_out_data_only"]]
        lines += [""] + ([f"AUs left out: {'; '.join(left)}.", ""] if left else [])
    return lines


def comparison_section(comparison: Optional[pd.DataFrame]) -> List[str]:
    if comparison is None or not len(comparison):
        return []
    lines = ["## Paired comparison over test subjects", "",
             "Per-subject mean F1 (over the AUs the subject shows), difference A − B averaged "
             "over the seeds both models ran, then the mean over subjects with a percentile "
             "bootstrap 95% CI (10,000 resamples of subjects). A CI that contains 0 means the "
             "data cannot tell the two apart.", "",
             "| A | B | subjects | seeds | F1 A | F1 B | A − B | 95% CI | verdict |",
             "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for _, row in comparison.iterrows():
        lines.append(f"| {row['model_a']} | {row['model_b']} | {row['subjects']} | {row['seeds']} | "
                     f"{fmt(row['mean_f1_a'])} | {fmt(row['mean_f1_b'])} | "
                     f"{fmt(row['diff'], signed=True)} | [{fmt(row['ci_low'], signed=True)}, "
                     f"{fmt(row['ci_high'], signed=True)}] | {verdict(row)} |")
    return lines + [""]


def schedule_summary(schedule: Mapping[str, Any]) -> str:
    """The schedule in a few words: optimizer, lr, batches, epochs, patience, loss."""
    optim = (schedule.get("optim_wrapper") or {}).get("optimizer") or {}
    parts = []
    if optim:
        parts.append(f"{optim.get('type', '?')} lr {optim.get('lr', '?')}"
                     + (f" wd {optim['weight_decay']}" if "weight_decay" in optim else ""))
    schedulers = [s.get("type", "?") for s in schedule.get("param_scheduler") or []]
    parts.append(f"lr schedule {' + '.join(schedulers) if schedulers else 'constant'}")
    if schedule.get("batch_size"):
        parts.append(f"batch {schedule['batch_size']}")
    sampler = (schedule.get("sampler") or {}).get("type", "AUWeightedBatchSampler")
    drawn = "AU-weighted" if sampler == "AUWeightedBatchSampler" else \
        "shuffled" if sampler == "ShuffledBatchSampler" else sampler
    if schedule.get("iters_per_epoch"):
        parts.append(f"{schedule['iters_per_epoch']} {drawn} batches an epoch")
    elif sampler == "ShuffledBatchSampler":
        parts.append("an epoch one shuffled pass over the training frames")
    epochs = (schedule.get("train_cfg") or {}).get("max_epochs")
    if epochs:
        parts.append(f"at most {epochs} epochs")
    stop = schedule.get("early_stopping") or {}
    if "patience" in stop:
        parts.append(f"patience {stop['patience']}")
    if (schedule.get("loss") or {}).get("type"):
        parts.append(f"loss {schedule['loss']['type']}")
    return ", ".join(parts)


def weights_line(name: str, results: Sequence[RunResult]) -> str:
    """A model scored from given weights: their format and files (SHA-256) per fold."""
    own = sorted((r for r in results if r.provenance.model == name), key=lambda r: r.provenance.fold)
    files = [f"fold {r.provenance.fold}: `{Path(f['file']).name}` (sha256 {f['sha256'][:12]}…)"
             for r in own for f in r.provenance.extra["weights"].get("files", [])]
    w = own[0].provenance.extra["weights"]
    return (f"* {name}: no training, {w.get('format')} weights scored as given; image size "
            f"{own[0].provenance.img_size}; " + "; ".join(files)
            + (f" ({w['note']})" if w.get("note") else ""))


def provenance_section(results: Sequence[RunResult], published: Mapping[str, Any]) -> List[str]:
    folds: Dict[int, RunResult] = {}
    for r in results:
        folds.setdefault(r.provenance.fold, r)
    lines = ["## Folds", ""]
    for fold, r in sorted(folds.items()):
        p = r.provenance
        lines.append(f"* fold {fold}: train {' '.join(p.train_subjects)}; "
                     f"test {' '.join(p.test_subjects)}"
                     + (f"; epoch chosen on {' '.join(p.val_subjects)}" if p.val_subjects else ""))
    first = results[0].provenance
    lines += ["", "## Provenance", "",
              f"* device: {', '.join(sorted({r.provenance.device for r in results}))}; world size: "
              f"{', '.join(sorted({str(r.provenance.world_size) for r in results}))}",
              "* versions: " + " ".join(f"{k}={v}" for k, v in first.versions.items())]
    schedules: Dict[str, RunResult] = {}
    for r in results:
        schedules.setdefault(r.provenance.model, r)
    for name, r in schedules.items():
        p = r.provenance
        if p.extra.get("weights"):
            lines.append(weights_line(name, results))
            continue
        demo = p.extra.get("demo")
        lines.append(f"* {name}: preset {p.preset or 'none (the config’s schedule)'}"
                     + (f" with its own demo entries {demo}" if demo else "")
                     + f"; image size {p.img_size}; {schedule_summary(p.schedule or {})}; "
                     f"backbone weights {p.backbone_init.get('weights', '?')}"
                     + (f"; start: {p.extra['init']}" if p.extra.get("init") else ""))
    for name, pub in published.items():
        if pub is not None:
            lines.append(f"* published row beside {name}: {pub.method}, {pub.citation}, {pub.source}"
                         + (f" ({pub.notes})" if pub.notes else ""))
    return lines + [""]


def markdown_report(frame: pd.DataFrame, results: Sequence[RunResult], *, synthetic: bool,
                    published: Mapping[str, Any], comparison: Optional[pd.DataFrame] = None,
                    cross: Optional[pd.DataFrame] = None) -> str:
    means = model_means(frame)
    aus = scored_aus(frame)
    first = results[0].provenance
    datasets = sorted({r.provenance.dataset for r in results})
    data = sorted({r.provenance.data for r in results})
    lines = [f"# auzoo bench: {', '.join(d.upper() for d in datasets)}, F1-frame and accuracy (%)", ""]
    if synthetic:
        lines += [SYNTHETIC_NOTE, ""]
    lines += [f"Data: {', '.join(f'`{d}`' for d in data)} (checksum "
              f"{', '.join(sorted({r.provenance.data_checksum for r in results}))}); bad frames: "
              f"**{first.bad_frames}**; epoch selected on: **{first.select_on}**.",
              "Per seed, the mean over folds of per-fold scores (each fold pools every test "
              "frame); with several seeds, mean ± standard deviation over seeds. A published "
              "row appears only under the model it was published for.", "",
              "## F1-frame", ""] + score_table(means, "f1", aus, published, synthetic)
    lines += ["", "## Accuracy", ""] + score_table(means, "acc", aus, published, synthetic)
    lines += ["", "## Per fold (mean F1 over AUs, mean over seeds)", ""] + fold_table(frame) + [""]
    lines += cross_section(cross) + comparison_section(comparison)
    lines += provenance_section(results, published)
    return "\n".join(lines)
