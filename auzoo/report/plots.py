"""Per-model bar charts against the published row, and one view of all models."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import pandas as pd

from auzoo.report.tables import BASELINE, au_columns


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_model(name: str, row: pd.Series, baseline: Optional[pd.Series], published,
               path: Path) -> Path:
    """This run's per-AU F1 (± std over seeds) beside the row published for the model."""
    plt = _pyplot()
    aus = [c[3:] for c in row.index if c.startswith("f1_AU") and not c.endswith("_std")
           and not pd.isna(row[c])]
    x = np.arange(len(aus))
    ours = [float(row[f"f1_{au}"]) for au in aus]
    std = [float(row.get(f"f1_{au}_std", np.nan)) for au in aus]
    theirs = dict(zip((f"AU{a}" for a in published.aus), published.f1)) if published else {}
    width = 0.4 if theirs else 0.6
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(aus) + 2), 3.6), dpi=120)
    ax.bar(x - (width / 2 if theirs else 0), ours, width, label=f"{name} (this run)",
           color="#3b75af", yerr=None if np.all(np.isnan(std)) else np.nan_to_num(std), capsize=2)
    if theirs:
        ax.bar(x + width / 2, [theirs.get(au, np.nan) for au in aus], width,
               label=f"{published.method}, published ({published.source})", color="#ef8636")
    if baseline is not None:
        ax.scatter(x, [float(baseline.get(f"f1_{au}", np.nan)) for au in aus], marker="_", s=300,
                   color="black", label="always present", zorder=3)
    ax.set_xticks(x, aus)
    ax.set_ylabel("F1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{name}: per-AU F1, folds {row.get('folds')}")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_overview(means: pd.DataFrame, path: Path) -> Path:
    """All models at a glance: a model × AU heatmap of F1 with the average, the
    always-present baseline as the last row, and each cell's margin over it."""
    plt = _pyplot()
    aus = au_columns(means.reset_index())
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
    ax.set_title("F1 (%) per model and AU (↓: below always-present)")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_plots(means: pd.DataFrame, published: Mapping[str, Any], folder: Path) -> None:
    baseline = means.loc[BASELINE] if BASELINE in means.index else None
    for name in [m for m in means.index if m != BASELINE]:
        plot_model(name, means.loc[name], baseline, published.get(name), folder / f"{name}_f1.png")
    plot_overview(means, folder / "all_models_f1.png")
