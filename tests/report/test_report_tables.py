"""results.csv and results.md from run records: mean ± std over seeds, the
baseline, published rows only beside their own model, differences on real data."""
from __future__ import annotations

import numpy as np
import pytest

from auzoo.engine.records import RunSpec
from bench_fake_train import baseline_f1, fake_f1, fake_train


def _results(tmp_path, names, folds=(1, 2, 3), seeds=(0,), data="disfa_cache"):
    out = []
    for name in names:
        for fold in folds:
            for seed in seeds:
                spec = RunSpec(model=name, data=str(tmp_path / data), fold=fold, seed=seed,
                               work_dir=str(tmp_path / "cells" / name / f"{fold}-{seed}"))
                out.append(fake_train(spec))
    return out


def test_mean_and_std_over_seeds_by_hand(tmp_path):
    from auzoo.report.tables import model_means, results_frame

    results = _results(tmp_path, ["alpha"], folds=(1, 2), seeds=(0, 1, 3))
    frame = results_frame(results)
    row = model_means(frame).loc["alpha"]
    # per seed: mean over the folds; then mean and sample std over the seeds
    per_seed = [np.mean([fake_f1("alpha", f, s, 4) for f in (1, 2)]) for s in (0, 1, 3)]
    assert row["f1_AU4"] == pytest.approx(np.mean(per_seed))
    assert row["f1_AU4_std"] == pytest.approx(np.std(per_seed, ddof=1))
    means = [np.mean([np.mean([fake_f1("alpha", f, s, a) for a in (1, 2, 4, 6, 9, 12, 25, 26)])
                      for f in (1, 2)]) for s in (0, 1, 3)]
    assert row["f1_mean"] == pytest.approx(np.mean(means))
    assert row["f1_mean_std"] == pytest.approx(np.std(means, ddof=1))
    assert row["n_seeds"] == 3 and row["seeds"] == "0,1,3" and row["folds"] == "1,2"
    seed1 = frame[(frame["model"] == "alpha") & (frame["fold"] == "mean") & (frame["seed"] == "1")]
    assert seed1["f1_AU4"].item() == pytest.approx(per_seed[1])
    base = model_means(frame).loc["always-present"]
    assert base["f1_AU9"] == pytest.approx(np.mean([baseline_f1(f, 9) for f in (1, 2)]))


def test_one_seed_has_no_std(tmp_path):
    from auzoo.report.tables import model_means, results_frame

    frame = results_frame(_results(tmp_path, ["alpha"], folds=(1,)))
    assert "f1_mean_std" not in frame or np.isnan(model_means(frame).loc["alpha"].get("f1_mean_std"))
    assert list(frame["fold"]) == ["1", "mean", "1", "mean"]  # alpha, then the baseline


@pytest.fixture
def own_row():
    from auzoo.report.published import PublishedResult, register_published, unregister_published

    row = register_published(PublishedResult(
        method="Alpha-Net", dataset="disfa", aus=(1, 2), f1=(11.1, 22.2), citation="A. Author",
        source="Table 9", models=("alpha",)))
    yield row
    unregister_published((row.method, row.dataset))


def test_a_published_row_only_beside_its_own_model(tmp_path, own_row):
    from auzoo.report.markdown import markdown_report
    from auzoo.report.tables import published_by_model, results_frame

    results = _results(tmp_path, ["alpha", "beta", "jaa_lite"], folds=(1,))
    published = published_by_model(results)
    assert published["alpha"] is own_row
    assert published["beta"] is None and published["jaa_lite"] is None  # JAA-Net's row is not jaa_lite's
    frame = results_frame(results)
    real = markdown_report(frame, results, synthetic=False, published=published)
    lines = real.splitlines()
    at = next(i for i, l in enumerate(lines) if l.startswith("| **alpha**"))
    assert lines[at + 1].startswith("| Alpha-Net, published (Table 9) | 11.1 | 22.2 | – |")
    diff = fake_f1("alpha", 1, 0, 1) - 11.1
    assert lines[at + 2].startswith(f"| difference | {diff:+.1f} |")
    assert lines[at + 3].startswith("| **beta**")
    assert real.count("Alpha-Net, published") == 1  # no accuracy printed: none in that table
    assert "batch 32, 20 AU-weighted batches an epoch" in real  # the schedule in the provenance
    synthetic = markdown_report(frame, results, synthetic=True, published=published)
    assert "| difference |" not in synthetic and "Synthetic data" in synthetic


def test_bp4d_results_get_bp4d_rows(tmp_path):
    from auzoo.report.published import PublishedResult, register_published, unregister_published
    from auzoo.report.tables import published_by_model

    row = register_published(PublishedResult(
        method="Alpha-Net", dataset="bp4d", aus=(1,), f1=(50.0,), citation="A", models=("alpha",)))
    try:
        bp4d = published_by_model(_results(tmp_path, ["alpha"], folds=(1,), data="bp4d_cache"))
        disfa = published_by_model(_results(tmp_path / "d", ["alpha"], folds=(1,)))
    finally:
        unregister_published(("Alpha-Net", "bp4d"))
    assert bp4d["alpha"] is row and disfa["alpha"] is None


def test_a_config_names_its_row(tmp_path):
    from auzoo.report.tables import published_by_model

    # the stand-in writes `published = 'pinned'` into pinned's config text: a row that
    # does not exist is an error that names it
    with pytest.raises(KeyError, match="'pinned'"):
        published_by_model(_results(tmp_path, ["pinned"], folds=(1,)))


def test_the_provenance_says_where_each_models_weights_started(tmp_path):
    from auzoo.report.markdown import provenance_section

    results = _results(tmp_path, ["alpha", "beta"], folds=(1,))
    results[0].provenance.extra["init"] = "'src' trained on bp4d, fold 2, epoch 5, through T: x.pth"
    lines = provenance_section(results, {})
    alpha = next(line for line in lines if line.startswith("* alpha:"))
    beta = next(line for line in lines if line.startswith("* beta:"))
    assert alpha.endswith("; start: 'src' trained on bp4d, fold 2, epoch 5, through T: x.pth")
    assert "start:" not in beta  # a record without the statement (older runs) has none
