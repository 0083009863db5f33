"""``auzoo bench``: every model on every fold, and tables beside the published ones.

A *cell* is one (model, fold). Each cell trains in its own work dir,
``OUT/cells/MODEL/foldK/``, and is finished once its ``result.json`` is
written (atomically, by :func:`auzoo.engine.train.train`). A rerun reuses
finished cells, resumes an interrupted one from its last scored epoch, and
runs the rest. ``--shard I/N`` runs every N-th cell from the I-th, so N
machines can share the grid over a shared OUT; a final run without
``--shard`` merges what they wrote (running any cell still missing) into:

* ``results.csv``  one row per model and fold, a mean row per model, and the
                   always-present baseline; every row says what produced it
* ``results.md``   per-AU F1 and accuracy next to the published rows, the
                   difference, folds, and the paired per-subject comparison
* ``plots/MODEL_f1.png``  per-AU F1 against the published numbers
* ``comparison.csv``  for two or more models: mean per-subject F1 difference
                   with a bootstrap 95% CI over the test subjects

Without ``--data`` it runs on a synthetic DISFA (made once, kept in the user's
cache folder) with the ``cpu-demo`` preset, sized to finish on a laptop CPU.
"""
from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"
COMPARISON_CSV = "comparison.csv"
BASELINE = "always-present"

# Named training presets. Values are the training options of `auzoo train`
# (None = the model config's value, i.e. the paper's schedule) plus config
# overrides in `cfg_options`.
PRESETS: Dict[str, Dict[str, Any]] = {
    # The paper's protocol as the model configs state it.
    "paper": dict(),
    # tranet x 3 folds of the synthetic DISFA in about 8 minutes on two CPU
    # cores (docs/training.md has the measurement). Without pretrained weights (nothing is downloaded) the paper's
    # SGD at lr 0.001 barely moves in 100 steps; AdamW at 1e-3 takes TRA-Net
    # from random weights well past the always-present baseline. A step costs
    # about the same at 64 px as at 48 (its time goes to the 75M parameters),
    # so the faces stay at 64 px and the batch at 32.
    "cpu-demo": dict(img_size=64, batch_size=32, iters_per_epoch=20, max_epochs=4,
                     cfg_options={"train.patience": 4, "train.eval_batch_size": 64,
                                  "train.optimizer": dict(type="AdamW", lr=1e-3,
                                                          weight_decay=1e-4, _delete_=True)}),
}

# The synthetic DISFA the demo runs on (27 subjects, the real folds); bump the
# version when its recipe changes.
SYNTHETIC = dict(name="synthetic-disfa-v1", subjects=27, frames=48, width=320, height=240,
                 size=64, seed=0)


# --------------------------------------------------------------------------
# cells and shards
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    model: str  # what the user typed: a name or a config file
    name: str   # the model's name (config stem)
    fold: int

    def work_dir(self, out: Path) -> Path:
        return Path(out) / "cells" / self.name / f"fold{self.fold}"

    def result_path(self, out: Path) -> Path:
        from auzoo.engine.train import RESULT_FILE
        return self.work_dir(out) / RESULT_FILE

    def __str__(self) -> str:
        return f"{self.name} fold {self.fold}"


def parse_folds(text) -> Tuple[int, ...]:
    if isinstance(text, (list, tuple)):
        folds = tuple(int(f) for f in text)
    else:
        try:
            folds = tuple(int(f) for f in str(text).split(",") if f.strip())
        except ValueError:
            raise ValueError(f"--folds {text!r}: expected comma-separated fold numbers, e.g. 1,2,3") from None
    if not folds or any(f not in (1, 2, 3) for f in folds) or len(set(folds)) != len(folds):
        raise ValueError(f"--folds {text!r}: DISFA has folds 1, 2 and 3 (each at most once)")
    return folds


def parse_shard(text: Optional[str]) -> Optional[Tuple[int, int]]:
    """``'I/N'`` -> ``(I, N)`` with 1 <= I <= N."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected I/N, e.g. 2/4") from None
    if not 1 <= i <= n:
        raise ValueError(f"--shard {text!r}: need 1 <= I <= N")
    return i, n


def plan_cells(models: Sequence[str], folds: Sequence[int]) -> List[Cell]:
    """Every (model, fold), model-major, in a fixed order every shard agrees on."""
    from auzoo.config import load_config, model_name

    cells, names = [], {}
    for model in models:
        name = model_name(load_config(model))
        if name in names and names[name] != model:
            raise ValueError(f"models {names[name]!r} and {model!r} are both named '{name}'")
        names[name] = model
        cells.extend(Cell(model, name, fold) for fold in folds)
    if len(set(cells)) != len(cells):
        raise ValueError("a model is listed twice")
    return cells


def shard_cells(cells: Sequence[Cell], shard: Optional[Tuple[int, int]]) -> List[Cell]:
    if shard is None:
        return list(cells)
    i, n = shard
    return list(cells[i - 1::n])


def read_result(cell: Cell, out: Path) -> Optional[Dict[str, Any]]:
    path = cell.result_path(out)
    if not path.is_file():
        return None
    return json.loads(path.read_text())


# --------------------------------------------------------------------------
# the synthetic DISFA of the demo
# --------------------------------------------------------------------------

def user_cache_dir() -> Path:
    """``$AUZOO_CACHE_DIR``, else ``$XDG_CACHE_HOME/auzoo``, else ``~/.cache/auzoo``."""
    if os.environ.get("AUZOO_CACHE_DIR"):
        return Path(os.environ["AUZOO_CACHE_DIR"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "auzoo"


def synthetic_disfa(console=None) -> Path:
    """The prepared cache of the demo's synthetic DISFA, made on first use.

    It is synthesised and prepared next to its final place and renamed into
    it when complete, so an interrupted first run leaves no half cache behind
    (and the next run picks up the partial work: both steps resume)."""
    from auzoo.data import open_cache
    from auzoo.data.prepare import prepare_disfa
    from auzoo.data.synth import synth_disfa

    root = user_cache_dir()
    cache = root / SYNTHETIC["name"]
    if cache.is_dir():
        return cache
    work = root / f"{SYNTHETIC['name']}.partial"
    raw, prepared = work / "raw", work / "cache"
    if console is not None:
        console.print(f"making the synthetic DISFA once: {cache}")
    synth_disfa(raw, subjects=SYNTHETIC["subjects"], frames=SYNTHETIC["frames"],
                seed=SYNTHETIC["seed"], width=SYNTHETIC["width"], height=SYNTHETIC["height"])
    prepare_disfa(raw, prepared, size=SYNTHETIC["size"], workers=min(4, os.cpu_count() or 1))
    open_cache(prepared)  # complete and readable
    os.replace(prepared, cache)
    import shutil
    shutil.rmtree(work, ignore_errors=True)
    return cache


def synthetic_banner(cache: Path) -> str:
    return ("[bold yellow]Demo on SYNTHETIC data[/] (drawn faces; cache: "
            f"{cache}).\n"
            "Its numbers show that training works; they say nothing about DISFA.\n"
            "For real numbers, on a GPU:\n"
            "  auzoo prepare disfa /path/to/DISFA --out disfa_cache\n"
            "  auzoo bench tranet --data disfa_cache")


# --------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------

def _versions(result: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in result.get("versions", {}).items())


def results_frame(results: Mapping[Cell, Mapping[str, Any]]) -> pd.DataFrame:
    """results.csv: a row per model x fold, a mean row per model, and the
    always-present baseline per fold and mean. F1 and accuracy in percent."""
    rows: List[Dict[str, Any]] = []
    by_model: Dict[str, List[Tuple[Cell, Mapping[str, Any]]]] = {}
    for cell, result in results.items():
        by_model.setdefault(cell.name, []).append((cell, result))
    baseline_rows: Dict[int, Dict[str, Any]] = {}
    for name, cells in by_model.items():
        fold_rows = []
        for cell, r in sorted(cells, key=lambda cr: cr[0].fold):
            aus = list(r["f1"])
            row = dict(model=name, fold=str(cell.fold))
            row.update({f"f1_{au}": r["f1"][au] for au in aus})
            row["f1_mean"] = r["f1_mean"]
            row.update({f"acc_{au}": r["acc"][au] for au in aus})
            row["acc_mean"] = r["acc_mean"]
            row.update(
                frames=r["frames"], protocol=r["protocol"]["protocol"], folds=str(cell.fold),
                train_subjects=" ".join(r["train_subjects"]),
                val_subjects=" ".join(r.get("val_subjects", [])),
                test_subjects=" ".join(r["test_subjects"]), bad_frames=r["bad_frames"],
                select_on=r["select_on"], best_epoch=r["best"]["epoch"], epochs=r.get("epochs"),
                preset=r.get("preset"), img_size=r["img_size"], batch_size=r["batch_size"],
                iters_per_epoch=r["iters_per_epoch"], seed=r["seed"], device=r["device"],
                precision=r.get("precision"), world_size=r.get("world_size"),
                wall_time_s=round(float(r.get("train_time", 0)) + float(r.get("eval_time", 0)), 1),
                params=r.get("params"), trainable_params=r.get("trainable_params"),
                data_checksum=r["data_checksum"], versions=_versions(r),
                checkpoint=r.get("checkpoint"))
            fold_rows.append(row)
            if cell.fold not in baseline_rows and r.get("baseline_f1"):
                b = dict(model=BASELINE, fold=str(cell.fold))
                b.update({f"f1_{au}": r["baseline_f1"][au] for au in aus})
                b["f1_mean"] = float(np.mean(list(r["baseline_f1"].values())))
                b.update({f"acc_{au}": r["baseline_acc"][au] for au in aus})
                b["acc_mean"] = float(np.mean(list(r["baseline_acc"].values())))
                b.update(frames=r["frames"], protocol=row["protocol"], folds=str(cell.fold),
                         test_subjects=row["test_subjects"], bad_frames=row["bad_frames"],
                         data_checksum=row["data_checksum"])
                baseline_rows[cell.fold] = b
        rows.extend(fold_rows)
        rows.append(_mean_row(name, fold_rows))
    if baseline_rows:
        ordered = [baseline_rows[f] for f in sorted(baseline_rows)]
        rows.extend(ordered)
        rows.append(_mean_row(BASELINE, ordered))
    return pd.DataFrame(rows)


def _mean_row(name: str, fold_rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The mean over folds of per-fold scores (how tables report DISFA)."""
    frame = pd.DataFrame(fold_rows)
    row: Dict[str, Any] = dict(model=name, fold="mean")
    for col in frame.columns:
        if col.startswith(("f1_", "acc_")):
            row[col] = float(frame[col].mean())
    row["frames"] = int(frame["frames"].sum())
    row["folds"] = ",".join(frame["fold"])
    for col in ("protocol", "bad_frames", "select_on", "preset", "img_size", "batch_size",
                "iters_per_epoch", "seed", "device", "precision", "world_size", "params",
                "trainable_params", "data_checksum", "versions"):
        if col in frame:
            values = frame[col].dropna().astype(str).unique()
            row[col] = values[0] if len(values) == 1 else " | ".join(values)
    if "wall_time_s" in frame:
        row["wall_time_s"] = round(float(frame["wall_time_s"].sum()), 1)
    return row


def per_subject_table(results: Mapping[Cell, Mapping[str, Any]]) -> pd.DataFrame:
    """Mean F1 (over the AUs the subject shows) per model and test subject."""
    rows = []
    for cell, r in results.items():
        for subject, scores in r.get("per_subject_f1", {}).items():
            rows.append(dict(model=cell.name, fold=cell.fold, subject=subject, f1=scores.get("mean")))
    return pd.DataFrame(rows, columns=["model", "fold", "subject", "f1"])


def paired_comparison(per_subject: pd.DataFrame, n_resamples: int = 10000,
                      seed: int = 0) -> pd.DataFrame:
    """For every pair of models: the mean over shared test subjects of the
    per-subject F1 difference, with a percentile bootstrap 95% CI over
    subjects (scipy.stats.bootstrap)."""
    from scipy.stats import bootstrap

    table = per_subject.pivot_table(index="subject", columns="model", values="f1")
    rows = []
    for a, b in itertools.combinations(list(dict.fromkeys(per_subject["model"])), 2):
        pair = table[[a, b]].dropna()
        diff = (pair[a] - pair[b]).to_numpy(float)
        row = dict(model_a=a, model_b=b, subjects=len(diff),
                   mean_f1_a=float(pair[a].mean()) if len(diff) else np.nan,
                   mean_f1_b=float(pair[b].mean()) if len(diff) else np.nan,
                   diff=float(diff.mean()) if len(diff) else np.nan, ci_low=np.nan, ci_high=np.nan)
        if len(diff) >= 2 and np.ptp(diff) > 0:
            ci = bootstrap((diff,), np.mean, n_resamples=n_resamples, confidence_level=0.95,
                           method="percentile", rng=np.random.default_rng(seed)).confidence_interval
            row.update(ci_low=float(ci.low), ci_high=float(ci.high))
        elif len(diff) >= 1:
            row.update(ci_low=float(diff.mean()), ci_high=float(diff.mean()))
        rows.append(row)
    return pd.DataFrame(rows, columns=["model_a", "model_b", "subjects", "mean_f1_a", "mean_f1_b",
                                       "diff", "ci_low", "ci_high"])


def _verdict(row) -> str:
    if np.isnan(row["ci_low"]):
        return "too few subjects"
    if row["ci_low"] > 0:
        return f"{row['model_a']} better"
    if row["ci_high"] < 0:
        return f"{row['model_b']} better"
    return "no clear difference"


def _fmt(x, digits: int = 1, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "–"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def markdown_report(frame: pd.DataFrame, results: Mapping[Cell, Mapping[str, Any]],
                    comparison: Optional[pd.DataFrame], *, data: str, synthetic: bool,
                    preset: Optional[str], model_cfgs: Mapping[str, Any],
                    overrides: str = "") -> str:
    from auzoo.engine.published import CITATION, published_row

    any_result = next(iter(results.values()))
    aus = [a.replace("AU", "") for a in any_result["f1"]]
    au_cols = [f"AU{a}" for a in aus]
    means = frame[frame["fold"] == "mean"].set_index("model")
    lines = ["# auzoo bench: DISFA, F1-frame and accuracy (%)", ""]
    if synthetic:
        lines += ["> **Synthetic data.** These numbers come from auzoo's synthetic DISFA (drawn "
                  "faces). They show that training works; they say nothing about real DISFA. "
                  "Run `auzoo prepare disfa ROOT --out CACHE` and `auzoo bench MODEL --data CACHE` "
                  "for real numbers.", ""]
    protocol = any_result["protocol"]
    lines += [f"Data: `{data}` (checksum `{any_result['data_checksum']}`), "
              f"{protocol['protocol']} protocol: AUs {', '.join(map(str, protocol['aus']))}, "
              f"positive = {protocol['positive']}; bad frames: **{any_result['bad_frames']}**; "
              f"epoch selected on: **{any_result['select_on']}**"
              + (f"; preset: **{preset}**" if preset else "")
              + (f" with {overrides}" if overrides else "") + ".",
              f"Mean over folds {', '.join(sorted({str(c.fold) for c in results}))} of per-fold "
              "scores; each fold pools every test frame (not averaged per subject).", ""]

    def table(kind: str) -> List[str]:
        out = ["| model | " + " | ".join(au_cols) + " | Avg |",
               "|---|" + "---:|" * (len(au_cols) + 1)]
        footnotes = []
        for name in [m for m in means.index if m != BASELINE]:
            row = means.loc[name]
            ours = [row.get(f"{kind}_{au}", np.nan) for au in au_cols]
            avg = row[f"{kind}_mean"]
            out.append(f"| **{name}** (this run) | " + " | ".join(_fmt(v) for v in ours)
                       + f" | **{_fmt(avg)}** |")
            pub = published_row(name, model_cfgs.get(name))
            values = None if pub is None else (pub.f1 if kind == "f1" else pub.acc)
            if values is None or [f"AU{a}" for a in _published_aus()] != au_cols:
                continue
            pub_avg = pub.f1_avg if kind == "f1" else pub.acc_avg
            pub_mean = float(np.mean(values))
            mark = ""
            if abs(pub_mean - pub_avg) > 0.1:
                mark = "¹"
                footnotes.append(f"¹ {pub.method}: the printed average {pub_avg:.1f} differs from "
                                 f"the mean of its printed AU values ({pub_mean:.1f}); the difference "
                                 "row uses the mean.")
            out.append(f"| {pub.method}, published ({pub.source}) | "
                       + " | ".join(_fmt(v) for v in values) + f" | {_fmt(pub_avg)}{mark} |")
            if not synthetic:  # a difference to DISFA numbers means nothing on drawn faces
                out.append("| difference | " + " | ".join(_fmt(o - p, signed=True)
                                                        for o, p in zip(ours, values))
                           + f" | {_fmt(avg - pub_mean, signed=True)} |")
        if BASELINE in means.index:
            row = means.loc[BASELINE]
            out.append("| *always present (baseline)* | "
                       + " | ".join(_fmt(row.get(f"{kind}_{au}", np.nan)) for au in au_cols)
                       + f" | *{_fmt(row[f'{kind}_mean'])}* |")
        return out + ([""] + sorted(set(footnotes)) if footnotes else [])

    lines += ["## F1-frame", ""] + table("f1") + ["", "## Accuracy", ""] + table("acc") + [""]

    lines += ["## Per fold (mean F1 over AUs)", "",
              "| model | " + " | ".join(f"fold {f}" for f in sorted({c.fold for c in results}))
              + " | mean | best epochs | wall time (s) |",
              "|---|" + "---:|" * (len({c.fold for c in results}) + 3)]
    for name in [m for m in means.index if m != BASELINE]:
        rows = frame[(frame["model"] == name) & (frame["fold"] != "mean")].set_index("fold")
        cells = [_fmt(rows.loc[str(f), "f1_mean"]) if str(f) in rows.index else "–"
                 for f in sorted({c.fold for c in results})]
        epochs = ", ".join(str(int(e)) for e in rows["best_epoch"])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {_fmt(means.loc[name, 'f1_mean'])} | "
                     f"{epochs} | {_fmt(means.loc[name, 'wall_time_s'], 0)} |")
    lines.append("")

    if comparison is not None and len(comparison):
        lines += ["## Paired comparison over test subjects", "",
                  "Per-subject mean F1 (over the AUs the subject shows), difference A − B, mean over "
                  "the subjects both models were scored on, with a percentile bootstrap 95% CI "
                  "(10,000 resamples of subjects). A CI that contains 0 means the data cannot tell "
                  "the two apart.", "",
                  "| A | B | subjects | F1 A | F1 B | A − B | 95% CI | |", "|---|---|---:|---:|---:|---:|---|---|"]
        for _, row in comparison.iterrows():
            lines.append(f"| {row['model_a']} | {row['model_b']} | {row['subjects']} | "
                         f"{_fmt(row['mean_f1_a'])} | {_fmt(row['mean_f1_b'])} | "
                         f"{_fmt(row['diff'], signed=True)} | "
                         f"[{_fmt(row['ci_low'], signed=True)}, {_fmt(row['ci_high'], signed=True)}] | "
                         f"{_verdict(row)} |")
        lines.append("")

    lines += ["## Folds", ""]
    for fold, info in sorted(protocol["folds"].items(), key=lambda kv: int(kv[0])):
        if int(fold) in {c.fold for c in results}:
            lines.append(f"* fold {fold}: train {' '.join(info['train'])}; test {' '.join(info['test'])}")
    val = {tuple(r.get("val_subjects", [])) for r in results.values()} - {()}
    if val:
        lines.append("* held out for epoch selection (from the training subjects): "
                     + "; ".join(" ".join(v) for v in sorted(val)))
    lines += ["", "## Provenance", "",
              f"* device: {', '.join(sorted({r['device'] for r in results.values()}))}; "
              f"precision: {', '.join(sorted({str(r.get('precision')) for r in results.values()}))}",
              f"* versions: {_versions(any_result)}",
              f"* schedule: batch {any_result['batch_size']}, {any_result['iters_per_epoch']} batches "
              f"an epoch, at most {any_result['max_epochs']} epochs, patience "
              f"{any_result['patience']}, image size {any_result['img_size']}",
              f"* published rows: {CITATION}", ""]
    return "\n".join(lines)


def _published_aus():
    from auzoo.engine.published import AUS
    return AUS


def plot_model(name: str, mean_row: pd.Series, baseline: Optional[pd.Series], path: Path,
               cfg=None) -> Path:
    """Bar chart of this run's per-AU F1 against the published row."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from auzoo.engine.published import published_row

    au_cols = [c[3:] for c in mean_row.index if c.startswith("f1_AU")]
    ours = [float(mean_row[f"f1_{au}"]) for au in au_cols]
    pub = published_row(name, cfg)
    x = np.arange(len(au_cols))
    width = 0.4 if pub is not None else 0.6
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    ax.bar(x - (width / 2 if pub else 0), ours, width, label=f"{name} (this run)", color="#3b75af")
    if pub is not None and [f"AU{a}" for a in _published_aus()] == au_cols:
        ax.bar(x + width / 2, pub.f1, width, label=f"{pub.method}, published ({pub.source})",
               color="#ef8636")
    if baseline is not None:
        ax.scatter(x, [float(baseline[f"f1_{au}"]) for au in au_cols], marker="_", s=300,
                   color="black", label="always present", zorder=3)
    ax.set_xticks(x, au_cols)
    ax.set_ylabel("F1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{name}: per-AU F1, mean over folds {mean_row['folds']}")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_reports(out: Path, results: Mapping[Cell, Mapping[str, Any]], *, data: str,
                  synthetic: bool, preset: Optional[str], overrides: str = "") -> pd.DataFrame:
    """results.csv, results.md, comparison.csv and the plots, each written atomically."""
    from auzoo.config import load_config
    from auzoo.engine.checkpoint import atomic_write

    out = Path(out)
    frame = results_frame(results)
    model_cfgs = {}
    for cell in results:
        if cell.name not in model_cfgs:
            model_cfgs[cell.name] = load_config(cell.model)
    comparison = None
    if len({c.name for c in results}) >= 2:
        comparison = paired_comparison(per_subject_table(results))
        atomic_write(out / COMPARISON_CSV, lambda tmp: comparison.to_csv(tmp, index=False))
    atomic_write(out / RESULTS_CSV, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.4g"))
    report = markdown_report(frame, results, comparison, data=data, synthetic=synthetic,
                             preset=preset, model_cfgs=model_cfgs, overrides=overrides)
    atomic_write(out / RESULTS_MD, lambda tmp: Path(tmp).write_text(report))
    means = frame[frame["fold"] == "mean"].set_index("model")
    baseline = means.loc[BASELINE] if BASELINE in means.index else None
    for name in [m for m in means.index if m != BASELINE]:
        plot_model(name, means.loc[name], baseline, out / "plots" / f"{name}_f1.png",
                   model_cfgs.get(name))
    return frame


def console_table(frame: pd.DataFrame, comparison: Optional[pd.DataFrame] = None):
    from rich.table import Table

    from auzoo.engine.published import published_row

    means = frame[frame["fold"] == "mean"]
    au_cols = [c[3:] for c in frame.columns if c.startswith("f1_AU")]
    # fits 80 columns: 8 AUs, the mean and the accuracy
    table = Table(title="F1-frame (%), mean over folds", box=None, padding=(0, 0, 0, 2),
                  header_style="bold underline")
    table.add_column("model", no_wrap=True, max_width=15)
    for au in au_cols:
        table.add_column(au, justify="right", no_wrap=True)
    table.add_column("Avg", justify="right", style="bold", no_wrap=True)
    table.add_column("acc", justify="right", no_wrap=True)
    for _, row in means.iterrows():
        style = "dim" if row["model"] == BASELINE else None
        table.add_row(str(row["model"]), *(_fmt(row[f"f1_{au}"]) for au in au_cols),
                      _fmt(row["f1_mean"]), _fmt(row["acc_mean"]), style=style)
        pub = published_row(str(row["model"])) if row["model"] != BASELINE else None
        if pub is not None and [f"AU{a}" for a in _published_aus()] == au_cols:
            table.add_row("  published", *(_fmt(v) for v in pub.f1),
                          _fmt(pub.f1_avg), _fmt(pub.acc_avg), style="italic")
    return table


# --------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------

def bench(models: Sequence[str], data=None, folds=(1, 2, 3), out="bench_out", shard=None,
          preset: Optional[str] = None, seed: int = 0, device: Optional[str] = None,
          console=None, **train_options: Any) -> Optional[pd.DataFrame]:
    """Train and score every (model, fold) cell, reusing finished ones; without
    a shard, write the reports and return results.csv as a DataFrame."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    from auzoo.engine.train import _barrier, _launcher, _world, resolve_device, train

    console = console or Console()
    if _distributed_env():  # the process group first: rank 0 may have data to make
        _launcher(resolve_device(device))
    rank = _world()[0]
    folds = parse_folds(folds)
    shard = parse_shard(shard) if isinstance(shard, (str, type(None))) else tuple(shard)
    synthetic = data is None
    if preset is None:
        preset = "cpu-demo" if synthetic else "paper"
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    options = _merge_preset(PRESETS[preset], train_options)
    if synthetic:
        if rank == 0:
            console.print(synthetic_banner(user_cache_dir() / SYNTHETIC["name"]))
            data = synthetic_disfa(console)
        _barrier()
        data = user_cache_dir() / SYNTHETIC["name"]
    out = Path(out)
    cells = plan_cells(models, folds)
    mine = shard_cells(cells, shard)
    todo = [c for c in mine if read_result(c, out) is None]
    if rank == 0:
        done = len(mine) - len(todo)
        console.print(f"bench: {len(cells)} cells ({len(models)} models x folds "
                      f"{','.join(map(str, folds))})"
                      + (f", shard {shard[0]}/{shard[1]}: {len(mine)} of them" if shard else "")
                      + f"; {done} finished, {len(todo)} to run; preset {preset}; out {out}")

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("ETA"),
                        TimeRemainingColumn(), console=console, disable=rank != 0)
    with progress:
        overall = progress.add_task("cells", total=len(mine), completed=len(mine) - len(todo),
                                    status="")
        for number, cell in enumerate(todo, 1):
            progress.update(overall, status=f"now: {cell}")
            train(cell.model, data, cell.fold, work_dir=cell.work_dir(out), resume=True, seed=seed,
                  device=device, preset=preset,
                  label=f"[{mine.index(cell) + 1}/{len(mine)}] {cell}", progress=progress,
                  **options)
            progress.update(overall, advance=1)
    if shard is not None:
        if rank == 0:
            console.print(f"shard {shard[0]}/{shard[1]} done; run the same command without "
                          "--shard to merge every shard's cells into the tables")
        return None
    if rank != 0:
        return None
    results = {cell: read_result(cell, out) for cell in cells}
    missing = [str(c) for c, r in results.items() if r is None]
    if missing:
        raise RuntimeError(f"{out}: cells without a result: {', '.join(missing)}")
    overrides = ", ".join(f"{k}={v}" for k, v in sorted(train_options.items())
                          if v not in (None, {}) and k != "cfg_options")
    if train_options.get("cfg_options"):
        overrides = ", ".join(filter(None, [overrides, "--cfg-options " + " ".join(
            f"{k}={v}" for k, v in train_options["cfg_options"].items())]))
    frame = write_reports(out, results, data=str(data), synthetic=synthetic, preset=preset,
                          overrides=overrides)
    comparison = pd.read_csv(out / COMPARISON_CSV) if (out / COMPARISON_CSV).is_file() else None
    console.print(console_table(frame))
    if comparison is not None and len(comparison):
        for _, row in comparison.iterrows():
            console.print(f"{row['model_a']} − {row['model_b']}: {_fmt(row['diff'], signed=True)} F1 "
                          f"[{_fmt(row['ci_low'], signed=True)}, {_fmt(row['ci_high'], signed=True)}] "
                          f"over {row['subjects']} subjects: {_verdict(row)}")
    console.print(f"wrote {out / RESULTS_CSV}, {out / RESULTS_MD}, {out / 'plots'}")
    return frame


def _distributed_env() -> bool:
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def _merge_preset(preset: Mapping[str, Any], options: Mapping[str, Any]) -> Dict[str, Any]:
    """Command-line options win over the preset; cfg_options merge key by key."""
    merged = {k: v for k, v in preset.items() if k != "cfg_options"}
    merged.update({k: v for k, v in options.items() if v is not None and k != "cfg_options"})
    cfg_options = dict(preset.get("cfg_options", {}))
    cfg_options.update(options.get("cfg_options") or {})
    if cfg_options:
        merged["cfg_options"] = cfg_options
    return merged


def bench_cli(args) -> int:
    from auzoo.engine.train import cli_cfg_options, distributed_session

    started = time.perf_counter()
    with distributed_session():
        bench(args.models, data=args.data, folds=args.folds, out=args.out or "bench_out",
              shard=args.shard, preset=getattr(args, "preset", None), seed=args.seed,
              device=args.device, max_epochs=args.max_epochs,
              iters_per_epoch=args.iters_per_epoch, batch_size=args.batch_size,
              img_size=args.img_size, select_on=args.select_on, cfg_options=cli_cfg_options(args))
    if not _distributed_env() or int(os.environ.get("RANK", 0)) == 0:
        print(f"bench finished in {time.perf_counter() - started:.0f} s")
    return 0
