"""results.csv: a row per model × fold × seed, mean rows over folds and seeds,
and the always-present baseline.

Tables report DISFA and BP4D as the literature does: per seed, the mean over
folds of per-fold scores; over seeds, the mean and the sample standard
deviation of those (``*_std`` columns; empty with one seed).
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np
import pandas as pd

from auzoo.engine.records import AUScores, RunResult

BASELINE = "always-present"
MEAN = "mean"
# Score columns: occurrence (F1, accuracy, %) and intensity (ICC, PCC, MAE).
SCORE_PREFIXES = ("f1_", "acc_", "icc_", "pcc_", "mae_")


def scored_aus(frame: pd.DataFrame, kind: str = "f1") -> List[str]:
    """``['AU1', 'AU2', …]``: the AUs the frame has ``{kind}_AU*`` score columns
    for (``f1_AU1`` …), by number."""
    aus = [c[len(kind) + 1:] for c in frame.columns
           if c.startswith(f"{kind}_AU") and not c.endswith("_std")]
    return sorted(aus, key=lambda a: int(a[2:]))


def score_columns(scores: AUScores) -> Dict[str, float]:
    row: Dict[str, float] = {f"f1_{au}": float(v) for au, v in scores.f1.items()}
    row["f1_mean"] = scores.f1_mean
    row.update({f"acc_{au}": float(v) for au, v in scores.acc.items()})
    row["acc_mean"] = scores.acc_mean
    return row


def _versions(versions: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in versions.items())


def run_row(r: RunResult) -> Dict[str, Any]:
    """One (model, fold, seed): its occurrence scores and what produced them."""
    row: Dict[str, Any] = dict(model=r.provenance.model, fold=str(r.provenance.fold),
                               seed=str(r.provenance.seed))
    row.update(score_columns(r.scores))
    row.update(provenance_columns(r, frames=r.scores.frames))
    return row


def provenance_columns(r: RunResult, frames: int) -> Dict[str, Any]:
    """What produced a result, as the columns of its table row."""
    p, t = r.provenance, r.training
    schedule = p.schedule or {}
    return dict(
        frames=frames, dataset=p.dataset, folds=str(p.fold),
        train_subjects=" ".join(p.train_subjects), val_subjects=" ".join(p.val_subjects),
        test_subjects=" ".join(p.test_subjects), bad_frames=p.bad_frames, select_on=p.select_on,
        best_epoch=t.best_epoch if t else None, epochs=t.epochs if t else None,
        preset=p.preset,
        demo=json.dumps(p.extra["demo"], sort_keys=True) if p.extra.get("demo") else None,
        backbone_init=(p.backbone_init or {}).get("weights"),
        img_size=p.img_size, batch_size=schedule.get("batch_size"),
        iters_per_epoch=schedule.get("iters_per_epoch"), device=p.device,
        precision=" ".join(f"{k}={v}" for k, v in (p.precision or {}).items()),
        world_size=p.world_size,
        wall_time_s=round(t.train_time + t.eval_time, 1) if t else None,
        params=t.params if t else None, trainable_params=t.trainable_params if t else None,
        data_checksum=p.data_checksum, versions=_versions(p.versions),
        checkpoint=t.checkpoint if t else None)


def _same_or_joined(values: pd.Series) -> Any:
    values = values.dropna().astype(str).unique()
    return values[0] if len(values) == 1 else (" | ".join(values) if len(values) else None)


SHARED = ("dataset", "bad_frames", "select_on", "preset", "demo", "backbone_init", "img_size",
          "batch_size",
          "iters_per_epoch", "device", "precision", "world_size", "params", "trainable_params",
          "data_checksum", "versions")


def mean_rows(name: str, rows: Sequence[Mapping[str, Any]], per_seed: bool) -> List[Dict[str, Any]]:
    """Per seed the mean over its folds; then the mean ± std over seeds."""
    frame = pd.DataFrame(rows)
    scores = [c for c in frame.columns if c.startswith(SCORE_PREFIXES)]
    seed_means = frame.groupby("seed", sort=False)[scores].mean()
    out: List[Dict[str, Any]] = []
    if per_seed:
        for seed, means in seed_means.iterrows():
            part = frame[frame["seed"] == seed]
            out.append(dict(model=name, fold=MEAN, seed=seed, n_seeds=1, **means.to_dict(),
                            folds=",".join(part["fold"]), frames=int(part["frames"].sum())))
    row: Dict[str, Any] = dict(model=name, fold=MEAN, seed=MEAN, n_seeds=len(seed_means))
    row.update(seed_means.mean().to_dict())
    if len(seed_means) > 1:
        row.update({f"{c}_std": float(seed_means[c].std(ddof=1)) for c in scores})
    row["folds"] = ",".join(sorted(frame["fold"].unique(), key=int))
    row["seeds"] = ",".join(map(str, seed_means.index))
    row["frames"] = int(frame.groupby("seed")["frames"].sum().iloc[0])
    for col in SHARED:
        if col in frame:
            row[col] = _same_or_joined(frame[col])
    if frame.get("wall_time_s") is not None:
        row["wall_time_s"] = round(float(frame["wall_time_s"].fillna(0).sum()), 1)
    return out + [row]


def baseline_rows(results: Sequence[RunResult]) -> List[Dict[str, Any]]:
    """Always-present per fold (it depends only on the fold's test frames) and its mean."""
    by_fold: Dict[int, Dict[str, Any]] = {}
    for r in results:
        s, p = r.scores, r.provenance
        if p.fold in by_fold or not s.baseline_f1:
            continue
        row: Dict[str, Any] = dict(model=BASELINE, fold=str(p.fold), seed="")
        row.update({f"f1_{au}": v for au, v in s.baseline_f1.items()})
        row["f1_mean"] = s.baseline_f1_mean
        row.update({f"acc_{au}": v for au, v in s.baseline_acc.items()})
        row["acc_mean"] = float(np.mean(list(s.baseline_acc.values()))) if s.baseline_acc else np.nan
        row.update(frames=s.frames, dataset=p.dataset, folds=str(p.fold),
                   test_subjects=" ".join(p.test_subjects), bad_frames=p.bad_frames,
                   data_checksum=p.data_checksum)
        by_fold[p.fold] = row
    if not by_fold:
        return []
    rows = [by_fold[f] for f in sorted(by_fold)]
    mean = pd.DataFrame(rows)[[c for c in rows[0] if c.startswith(("f1_", "acc_"))]].mean()
    return rows + [dict(model=BASELINE, fold=MEAN, seed="", **mean.to_dict(),
                        folds=",".join(str(f) for f in sorted(by_fold)),
                        frames=int(sum(r["frames"] for r in rows)), dataset=rows[0]["dataset"],
                        data_checksum=rows[0]["data_checksum"])]


def sort_key(r: RunResult):
    return (r.provenance.model, r.provenance.fold, r.provenance.seed)


def results_frame(results: Sequence[RunResult]) -> pd.DataFrame:
    """results.csv of one dataset folder (F1 and accuracy in percent), from
    the results that score occurrence."""
    results = sorted((r for r in results if r.scores is not None), key=sort_key)
    rows: List[Dict[str, Any]] = []
    for name in dict.fromkeys(r.provenance.model for r in results):
        own = [run_row(r) for r in results if r.provenance.model == name]
        rows.extend(own)
        rows.extend(mean_rows(name, own, per_seed=len({r["seed"] for r in own}) > 1))
    rows.extend(baseline_rows(results))
    return ordered(pd.DataFrame(rows))


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """Who, then the scores (each beside its std over seeds), then the provenance."""
    def scores(kind):
        aus = [f"{kind}_{au}" for au in scored_aus(frame, kind)] + [f"{kind}_mean"]
        return [c for a in aus for c in (a, f"{a}_std") if c in frame]

    first = [c for c in ("model", "fold", "seed", "n_seeds", "seeds") if c in frame]
    head = first + [c for kind in (p[:-1] for p in SCORE_PREFIXES) for c in scores(kind)
                    if any(x.startswith(f"{kind}_AU") for x in frame.columns)]
    return frame[head + [c for c in frame.columns if c not in set(head)]]


def model_means(frame: pd.DataFrame) -> pd.DataFrame:
    """The headline rows (mean over folds and seeds), one per model, baseline last."""
    means = frame[(frame["fold"] == MEAN) & (frame["seed"].isin([MEAN, ""]) | frame["seed"].isna())]
    return means.set_index("model")


def cross_frame(results: Sequence[RunResult]) -> pd.DataFrame:
    """cross_results.csv: scores on other datasets (``--test-data``), a row per
    model × fold × seed × scored cache, and the mean rows as in results.csv."""
    rows: List[Dict[str, Any]] = []
    for r in sorted(results, key=sort_key):
        p = r.provenance
        for data, entry in sorted(r.cross.items()):
            if not entry.get("scores"):
                continue   # an intensity model's: intensity_results.csv
            scores = AUScores.from_dict(entry["scores"])
            left = entry.get("left_out") or {}
            row = dict(model=p.model, fold=str(p.fold), seed=str(p.seed), trained_on=p.dataset,
                       scored_on=entry.get("dataset"), scored_data=data, **score_columns(scores),
                       frames=scores.frames, baseline_f1_mean=scores.baseline_f1_mean,
                       shared_aus=" ".join(map(str, entry.get("shared_aus", []))),
                       left_out_model_only=" ".join(map(str, left.get("model_only", []))),
                       left_out_data_only=" ".join(map(str, left.get("data_only", []))),
                       data_checksum=entry.get("data_checksum"))
            rows.append(row)
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    out: List[Dict[str, Any]] = []
    for (name, data), group in frame.groupby(["model", "scored_data"], sort=False):
        own = group.to_dict("records")
        out.extend(own)
        for mean in mean_rows(name, own, per_seed=False):
            mean.update(scored_data=data, trained_on=own[0]["trained_on"],
                        scored_on=own[0]["scored_on"], shared_aus=own[0]["shared_aus"],
                        left_out_model_only=own[0]["left_out_model_only"],
                        left_out_data_only=own[0]["left_out_data_only"],
                        baseline_f1_mean=float(group["baseline_f1_mean"].mean()))
            out.append(mean)
    return ordered(pd.DataFrame(out))


def published_by_model(results: Sequence[RunResult]) -> Dict[str, Any]:
    """model -> the row published *for that model* on the results' dataset (or
    None). A config's own ``published`` entry wins (its text is in the result)."""
    from mmengine.config import Config

    from auzoo.report.published import published_for

    rows: Dict[str, Any] = {}
    for r in results:
        name, dataset = r.provenance.model, r.provenance.dataset
        if name in rows:
            continue
        cfg = None
        try:
            if r.provenance.config:
                cfg = Config.fromstring(r.provenance.config, file_format=".py")
        except Exception:  # a config text that no longer parses still has its model's rows
            cfg = None
        # given weights are scored beside the row published for their model
        base = (r.provenance.extra.get("weights") or {}).get("model") or name
        rows[name] = published_for(base, dataset, cfg)
    return rows
