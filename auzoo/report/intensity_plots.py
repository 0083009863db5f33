"""Intensity plots: per model, ICC(3,1) and MAE per AU beside the zero
predictor; all models at once, an ICC heatmap."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from auzoo.report.intensity import ZERO
from auzoo.report.plots import _pyplot


def _aus(row: pd.Series):
    return [c[4:] for c in row.index if c.startswith("icc_AU") and not c.endswith("_std")
            and not pd.isna(row[c])]


def plot_intensity_model(name: str, row: pd.Series, zero: Optional[pd.Series], path: Path) -> Path:
    """ICC(3,1) (left) and MAE (right) per AU, ± std over seeds; the zero
    predictor's MAE as black marks (its ICC is 0)."""
    plt = _pyplot()
    aus = _aus(row)
    x = np.arange(len(aus))
    fig, (left, right) = plt.subplots(1, 2, figsize=(max(8, 1.1 * len(aus) + 3), 3.6), dpi=120)
    for ax, metric, colour, top in ((left, "icc", "#3b75af", 1.0), (right, "mae", "#519e3e", None)):
        values = [float(row[f"{metric}_{au}"]) for au in aus]
        std = [float(row.get(f"{metric}_{au}_std", np.nan)) for au in aus]
        ax.bar(x, values, 0.6, color=colour, label=f"{name} (this run)",
               yerr=None if np.all(np.isnan(std)) else np.nan_to_num(std), capsize=2)
        if zero is not None and metric == "mae":
            ax.scatter(x, [float(zero.get(f"mae_{au}", np.nan)) for au in aus], marker="_", s=300,
                       color="black", label=ZERO, zorder=3)
        ax.set_xticks(x, aus, rotation=45 if len(aus) > 8 else 0)
        ax.set_ylabel("ICC(3,1)" if metric == "icc" else "MAE (0-5)")
        if top is not None:
            ax.set_ylim(min(0.0, np.nanmin(values + [0.0]) - 0.05), top)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"{name}: per-AU intensity, folds {row.get('folds')}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_intensity_overview(means: pd.DataFrame, path: Path) -> Path:
    """A model x AU heatmap of ICC(3,1) with the mean, best model first."""
    plt = _pyplot()
    models = sorted((m for m in means.index if m != ZERO), key=lambda m: -float(means.loc[m, "icc_mean"]))
    aus = _aus(means.loc[models[0]]) if models else []
    values = np.array([[float(means.loc[m].get(f"icc_{au}", np.nan)) for au in aus]
                       + [float(means.loc[m, "icc_mean"])] for m in models])
    cols = aus + ["mean"]
    fig, ax = plt.subplots(figsize=(0.75 * len(cols) + 3, 0.45 * len(models) + 1.6), dpi=120)
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i in range(len(models)):
        for j, value in enumerate(values[i]):
            if not np.isnan(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if value < 0.6 else "black")
    ax.set_xticks(np.arange(len(cols)), cols)
    ax.set_yticks(np.arange(len(models)), models)
    ax.set_title("ICC(3,1) per model and AU (zero predictor: 0)")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_intensity_plots(means: pd.DataFrame, folder: Path) -> None:
    zero = means.loc[ZERO] if ZERO in means.index else None
    for name in [m for m in means.index if m != ZERO]:
        plot_intensity_model(name, means.loc[name], zero, folder / f"{name}_intensity.png")
    if any(m != ZERO for m in means.index):
        plot_intensity_overview(means, folder / "all_models_icc.png")


__all__ = ["plot_intensity_model", "plot_intensity_overview", "write_intensity_plots"]
