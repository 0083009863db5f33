"""The paired comparison (subjects, seeds, bootstrap CI) and the plots."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def test_paired_comparison_bootstrap():
    from auzoo.report.stats import paired_comparison

    rng = np.random.default_rng(0)
    subjects = [f"SN{i:03d}" for i in range(1, 28)]
    base = rng.uniform(30, 70, len(subjects))
    rows = [dict(model="a", subject=s, f1=f + 5 + rng.normal(0, 1)) for s, f in zip(subjects, base)]
    rows += [dict(model="b", subject=s, f1=f) for s, f in zip(subjects, base)]
    rows += [dict(model="c", subject=s, f1=f + rng.normal(0, 3)) for s, f in zip(subjects, base)]
    table = paired_comparison(pd.DataFrame(rows)).set_index(["model_a", "model_b"])
    ab = table.loc[("a", "b")]
    assert ab["subjects"] == 27 and ab["seeds"] == 1
    assert ab["diff"] == pytest.approx(5, abs=0.6)
    assert 0 < ab["ci_low"] < ab["diff"] < ab["ci_high"] < 10  # a real difference: CI above 0
    bc = table.loc[("b", "c")]
    assert bc["ci_low"] < 0 < bc["ci_high"]  # noise: CI contains 0


def test_seeds_are_averaged_within_each_subject():
    """Seed noise averages out per subject; subjects, not (subject, seed)
    pairs, are the resampled unit, and only seeds both models ran count."""
    from auzoo.report.stats import paired_comparison

    rows = []
    for i, s in enumerate(["s1", "s2", "s3", "s4"]):
        for seed, noise in ((0, -4.0), (1, +4.0)):
            rows.append(dict(model="a", subject=s, seed=seed, f1=50 + i + 2 + noise))
            rows.append(dict(model="b", subject=s, seed=seed, f1=50 + i))
        rows.append(dict(model="a", subject=s, seed=7, f1=0.0))  # b never ran seed 7
    row = paired_comparison(pd.DataFrame(rows)).iloc[0]
    assert (row["subjects"], row["seeds"]) == (4, 2)
    assert row["diff"] == pytest.approx(2.0)
    assert row["ci_low"] == pytest.approx(2.0) and row["ci_high"] == pytest.approx(2.0)


def test_plots(tmp_path):
    from auzoo.report.plots import write_plots
    from auzoo.report.published import published_for

    means = pd.DataFrame([
        dict(model="tranet", f1_AU1=50.0, f1_AU2=40.0, f1_mean=45.0, folds="1"),
        dict(model="other", f1_AU1=20.0, f1_AU2=np.nan, f1_mean=20.0, folds="1"),
        dict(model="always-present", f1_AU1=25.0, f1_AU2=30.0, f1_mean=27.5, folds="1"),
    ]).set_index("model")
    write_plots(means, {"tranet": published_for("tranet", "disfa")}, tmp_path)
    for name in ("tranet_f1.png", "other_f1.png", "all_models_f1.png"):
        assert (tmp_path / name).stat().st_size > 5000, name
    assert not (tmp_path / "always-present_f1.png").exists()
