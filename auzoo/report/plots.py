"""Per-model bar charts against the published row, and one view of all models."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import pandas as pd

from auzoo.report.tables import BASELINE, scored_aus


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def folds_label(folds) -> str:
    """``'1'`` -> ``'fold 1'``; ``'1,2,3'`` -> ``'folds 1, 2, 3'``."""
    parts = [f.strip() for f in str(folds or "").split(",") if f.strip()]
    if not parts:
        return "folds ?"
    return f"fold {parts[0]}" if len(parts) == 1 else f"folds {', '.join(parts)}"


SYNTHETIC_TAG = "synthetic data"


def model_figure(name: str, row: pd.Series, baseline: Optional[pd.Series], published,
                 synthetic: bool = False):
    """This run's per-AU F1 (± std over seeds) beside the row published for the
    model; on synthetic data the run's bars, the title and a watermark say so."""
    plt = _pyplot()
    aus = [c[3:] for c in row.index if c.startswith("f1_AU") and not c.endswith("_std")
           and not pd.isna(row[c])]
    x = np.arange(len(aus))
    ours = [float(row[f"f1_{au}"]) for au in aus]
    std = [float(row.get(f"f1_{au}_std", np.nan)) for au in aus]
    theirs = dict(zip((f"AU{a}" for a in published.aus), published.f1)) if published else {}
    width = 0.4 if theirs else 0.6
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(aus) + 2), 3.6), dpi=120)
    mine = f"{name} (this run{', ' + SYNTHETIC_TAG if synthetic else ''})"
    ax.bar(x - (width / 2 if theirs else 0), ours, width, label=mine, color="#3b75af",
           yerr=None if np.all(np.isnan(std)) else np.nan_to_num(std), capsize=2,
           hatch="//" if synthetic else None, edgecolor="white" if synthetic else None)
    if theirs:
        ax.bar(x + width / 2, [theirs.get(au, np.nan) for au in aus], width,
               label=f"{published.method}, published ({published.source}"
                     + (f", real {published.dataset.upper()})" if synthetic else ")"),
               color="#ef8636")
    if baseline is not None:
        # a hollow diamond: not to be read as an error bar's cap
        ax.scatter(x, [float(baseline.get(f"f1_{au}", np.nan)) for au in aus], marker="D", s=28,
                   facecolors="white", edgecolors="black", linewidths=1.0,
                   label="always present (F1 of predicting every frame positive)", zorder=3)
    if synthetic:
        ax.text(0.5, 0.5, SYNTHETIC_TAG.upper(), transform=ax.transAxes, ha="center",
                va="center", fontsize=28, color="grey", alpha=0.18, rotation=20, zorder=0)
    ax.set_xticks(x, aus)
    ax.set_ylabel("F1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{name}: per-AU F1, {folds_label(row.get('folds'))}"
                 + (f" ({SYNTHETIC_TAG})" if synthetic else ""))
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_model(name: str, row: pd.Series, baseline: Optional[pd.Series], published,
               path: Path, synthetic: bool = False) -> Path:
    plt = _pyplot()
    fig = model_figure(name, row, baseline, published, synthetic)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_overview(means: pd.DataFrame, path: Path, synthetic: bool = False) -> Path:
    """All models at a glance: a model × AU heatmap of F1 with the average, the
    always-present baseline as the last row, and each cell's margin over it."""
    plt = _pyplot()
    aus = scored_aus(means.reset_index())
    models = [m for m in means.index if m != BASELINE]
    order = sorted(models, key=lambda m: -float(means.loc[m, "f1_mean"]))
    rows = order + ([BASELINE] if BASELINE in means.index else [])
    values = np.array([[float(means.loc[m].get(f"f1_{au}", np.nan)) for au in aus]
                       + [float(means.loc[m, "f1_mean"])] for m in rows])
    cols = aus + ["Avg"]
    fig, ax = plt.subplots(figsize=(0.75 * len(cols) + 3, 0.45 * len(rows) + 1.6), dpi=120)
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=0, vmax=100, aspect="auto")
    base = values[-1] if BASELINE in means.index else None
    for i, model in enumerate(rows):
        for j, value in enumerate(values[i]):
            if np.isnan(value):
                continue
            below = base is not None and model != BASELINE and value < base[j]
            ax.text(j, i, f"{value:.0f}" + ("↓" if below else ""), ha="center", va="center",
                    fontsize=7, color="white" if value < 60 else "black",
                    fontweight="bold" if j == len(cols) - 1 else None)
    if base is not None:
        ax.axhline(len(rows) - 1.5, color="white", linewidth=2)
    ax.set_xticks(np.arange(len(cols)), cols)
    ax.set_yticks(np.arange(len(rows)), [m.replace(BASELINE, "always present") for m in rows])
    ax.set_title("F1 (%) per model and AU (↓: below always-present)"
                 + (f", {SYNTHETIC_TAG}" if synthetic else ""))
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_plots(means: pd.DataFrame, published: Mapping[str, Any], folder: Path,
                synthetic: bool = False) -> None:
    baseline = means.loc[BASELINE] if BASELINE in means.index else None
    for name in [m for m in means.index if m != BASELINE]:
        plot_model(name, means.loc[name], baseline, published.get(name), folder / f"{name}_f1.png",
                   synthetic=synthetic)
    plot_overview(means, folder / "all_models_f1.png", synthetic=synthetic)
