"""What the charts and results.md say: synthetic data marked as such, fold
titles in words, no -0.0, every paired-table column named."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _means(folds="1"):
    return pd.DataFrame([
        dict(model="tranet", f1_AU1=50.0, f1_AU2=40.0, f1_mean=45.0, folds=folds),
        dict(model="always-present", f1_AU1=25.0, f1_AU2=30.0, f1_mean=27.5, folds=folds),
    ]).set_index("model")


@pytest.mark.parametrize("synthetic", [True, False])
def test_a_chart_of_synthetic_data_says_so_beside_real_published_bars(synthetic):
    import matplotlib.pyplot as plt

    from auzoo.report.plots import model_figure
    from auzoo.report.published import published_for

    means = _means()
    fig = model_figure("tranet", means.loc["tranet"], means.loc["always-present"],
                       published_for("tranet", "disfa"), synthetic=synthetic)
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    texts = [t.get_text() for t in ax.texts]
    assert ("synthetic data" in ax.get_title()) == synthetic
    assert ("tranet (this run, synthetic data)" in labels) == synthetic
    assert ("SYNTHETIC DATA" in texts) == synthetic
    assert any("published" in label for label in labels)
    assert any("real DISFA" in label for label in labels) == synthetic
    # the always-present marker is a hollow diamond, not a bar-cap dash
    marker = next(c for c in ax.collections if "always present" in c.get_label())
    assert marker.get_facecolor()[0][:3].tolist() == [1.0, 1.0, 1.0]
    assert marker.get_paths()[0].vertices.shape[0] > 2
    plt.close(fig)


@pytest.mark.parametrize("folds,title", [("1", "fold 1"), ("1,2", "folds 1, 2"),
                                         ("1,2,3", "folds 1, 2, 3")])
def test_titles_say_fold_or_folds(folds, title):
    import matplotlib.pyplot as plt

    from auzoo.report.plots import model_figure

    fig = model_figure("tranet", _means(folds).loc["tranet"], None, None)
    assert fig.axes[0].get_title() == f"tranet: per-AU F1, {title}"
    plt.close(fig)


def test_numbers_never_read_minus_zero():
    from auzoo.report.markdown import fmt

    assert fmt(-0.0) == "0.0" and fmt(-0.01) == "0.0" and fmt(-0.04, signed=True) == "-0.04"
    assert fmt(0.0, signed=True) == "0.0" and fmt(-0.001, signed=True) == "0.0"
    assert fmt(2.94, signed=True) == "+2.9" and fmt(-1.25) == "-1.2" and fmt(np.nan) == "–"


def test_the_paired_table_names_every_column():
    from auzoo.report.markdown import comparison_section

    comparison = pd.DataFrame([dict(model_a="tranet", model_b="senet50", subjects=9, seeds=1,
                                    mean_f1_a=50.0, mean_f1_b=48.0, diff=2.0, ci_low=-0.02,
                                    ci_high=2.9, p_value=0.1)])
    lines = comparison_section(comparison)
    header = next(line for line in lines if line.startswith("| A |"))
    assert "| |" not in header and header.endswith("| verdict |")
    row = next(line for line in lines if line.startswith("| tranet |"))
    assert "[-0.02, +2.9]" in row and "-0.0," not in row
