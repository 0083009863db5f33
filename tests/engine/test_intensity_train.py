"""Training and scoring an intensity model end to end on the tiny synthetic
DISFA: the 12 AUs, ICC/PCC/MAE and the zero predictor in result.json, the
cache's labels in predictions.csv, eval and a 'both' model; every run
(occurrence too) writes predictions.csv."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auzoo.engine.predictions import read_predictions_csv
from auzoo.engine.records import RunResult, RunSpec
from engine_support import TINY_CONFIG

DISFA_12 = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)

INTENSITY = TINY_CONFIG.replace("aus=(1, 2, 4, 6, 9, 12, 25, 26)", "aus=None").replace(
    "    head=dict(type='TwoFCHead', pool_size=1, hidden=16, dropout=0.0),\n",
    "    head=None,\n    intensity_head=dict(type='{kind}', pool_size=1, hidden=16, dropout=0.0),\n") + """
task = 'intensity'
loss = dict(_delete_=True, type='{loss}')
val_evaluator = [dict(type='AUIntensityMetric')]
train_cfg = dict(max_epochs=2)
optim_wrapper = dict(optimizer=dict(lr=0.01))
"""


def _write(tmp_path, name, text):
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return path


def _train(config, cache, work_dir, **kw):
    from auzoo.engine.train import train
    return train(RunSpec(model=str(config), data=str(cache), fold=1, work_dir=str(work_dir),
                         device="cpu", **kw))


@pytest.fixture(scope="module")
def regression_run(tiny_cache, tmp_path_factory):
    base = tmp_path_factory.mktemp("intensity")
    config = _write(base, "tiny_intensity", INTENSITY.format(kind="RegressionIntensityHead",
                                                             loss="IntensityMSELoss"))
    return _train(config, tiny_cache, base / "run"), base / "run"


def test_intensity_run_scores_the_12_aus_beside_the_zero_predictor(regression_run, tiny_cache):
    from auzoo.data import open_cache
    from auzoo.engine.intensity_metrics import icc_3_1, mae, zero_baseline

    result, work = regression_run
    again = RunResult.read(work / "result.json")
    assert again.scores is None and again.task == "intensity"
    s = again.intensity
    assert s.aus == DISFA_12 and set(s.icc) == {f"AU{a}" for a in DISFA_12}
    assert all(v is None or -1 <= v <= 1 for v in s.icc.values())
    assert again.training.selected_by == "icc_mean"
    assert again.provenance.protocol["intensity"]["aus"] == list(DISFA_12)
    # predictions.csv: the cache's labels beside the predictions; the scores follow from it
    table = read_predictions_csv(work / "predictions.csv")
    cache = open_cache(tiny_cache)
    _, test = cache.fold_subjects(1)
    assert sorted(table["subject"].unique()) == sorted(test)
    rows = cache.index[cache.index["subject"].isin(test) & ~cache.index["bad_landmarks"]]
    merged = table.merge(rows, on=["subject", "frame"], how="left", validate="one_to_one")
    assert len(merged) == len(rows) == sum(s.frames.values()) // 12
    for au in DISFA_12:
        assert (merged[f"AU{au:02d}_true"] == merged[f"au{au}"]).all()
    y = table[[f"AU{a:02d}_true" for a in DISFA_12]].to_numpy()
    p = table[[f"AU{a:02d}_pred" for a in DISFA_12]].to_numpy()
    assert 0 <= p.min() and p.max() <= 5
    ours = [s.icc[f"AU{a}"] for a in DISFA_12]
    np.testing.assert_allclose(np.array(ours, dtype=float), icc_3_1(y, p), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([s.mae[f"AU{a}"] for a in DISFA_12], mae(y, p), rtol=1e-5)
    zero = zero_baseline(y)
    np.testing.assert_allclose([s.baseline_mae[f"AU{a}"] for a in DISFA_12], y.mean(axis=0))
    np.testing.assert_allclose([s.baseline_mae[f"AU{a}"] for a in DISFA_12], zero["mae"])
    assert all(v is None for v in s.baseline_pcc.values())
    from auzoo.report.per_subject import per_subject_scores
    from_csv = per_subject_scores(again, "icc")
    for subject, row in s.per_subject_icc.items():
        assert from_csv[subject] == pytest.approx(row["mean"], abs=1e-5)


def test_eval_and_the_checkpoint_know_the_task(regression_run, tiny_cache, tmp_path, capsys):
    from auzoo.cli import main
    from auzoo.engine.checkpoint import load_checkpoint
    from auzoo.engine.evaluate import evaluate_checkpoint

    result, work = regression_run
    meta, _ = load_checkpoint(work / "best.pth")
    assert meta["task"] == "intensity" and meta["best"]["selected_by"] == "icc_mean"
    out = evaluate_checkpoint(work / "best.pth", tiny_cache, device="cpu")
    assert out["scores"] is None
    assert out["intensity"].icc == pytest.approx(result.intensity.icc, abs=1e-5)
    assert main(["eval", "--weights", str(work / "best.pth"), "--data", str(tiny_cache),
                 "--device", "cpu", "--out", str(tmp_path / "eval.csv")]) == 0
    printed = capsys.readouterr().out
    assert "ICC(3,1)" in printed and "MAE zero predictor" in printed
    table = pd.read_csv(tmp_path / "eval.csv")
    assert list(table["AU"])[-1] == "mean" and {"icc", "pcc", "mae"} <= set(table.columns)


@pytest.mark.parametrize("kind, loss", [("OrdinalIntensityHead", "OrdinalIntensityLoss"),
                                        ("LevelsIntensityHead", "LevelsIntensityLoss")])
def test_ordinal_and_levels_heads_train(kind, loss, tiny_cache, tmp_path):
    config = _write(tmp_path, "tiny_" + kind.lower(), INTENSITY.format(kind=kind, loss=loss)
                    + "train_cfg = dict(max_epochs=1)\n")
    result = _train(config, tiny_cache, tmp_path / "run")
    assert result.intensity.aus == DISFA_12 and np.isfinite(result.intensity.mae_mean)


def test_both_heads_write_both_scores_and_an_occurrence_probability(tiny_cache, tmp_path):
    text = (INTENSITY.format(kind="OrdinalIntensityHead", loss="IntensityMSELoss")
            .replace("    head=None,\n", "    head=dict(type='TwoFCHead', pool_size=1, hidden=16),\n")
            .replace("task = 'intensity'", "task = 'both'")
            .replace("loss = dict(_delete_=True, type='IntensityMSELoss')",
                     "loss = dict(_delete_=True, type='OccurrenceIntensityLoss', "
                     "intensity=dict(type='OrdinalIntensityLoss'))")
            .replace("val_evaluator = [dict(type='AUIntensityMetric')]",
                     "val_evaluator = [dict(type='AUMetric'), dict(type='AUIntensityMetric')]")
            + "train_cfg = dict(max_epochs=1)\n")
    result = _train(_write(tmp_path, "tiny_both", text), tiny_cache, tmp_path / "run")
    # both: the AUs of DISFA's occurrence protocol, scored both ways
    assert result.task == "both" and result.scores.aus == result.intensity.aus == \
        (1, 2, 4, 6, 9, 12, 25, 26)
    table = read_predictions_csv(tmp_path / "run" / "predictions.csv")
    assert {"AU01_true", "AU01_pred", "AU01_prob"} <= set(table.columns)
    assert table["AU01_true"].max() > 1                     # intensities, not 0/1
    assert table["AU01_prob"].between(0, 1).all()


def test_an_occurrence_run_writes_probabilities(tiny_cache, tmp_path):
    config = _write(tmp_path, "tiny_occ", TINY_CONFIG + "train_cfg = dict(max_epochs=1)\n")
    result = _train(config, tiny_cache, tmp_path / "run")
    table = read_predictions_csv(tmp_path / "run" / "predictions.csv")
    assert [c for c in table.columns if c.startswith("AU")][:2] == ["AU01_true", "AU01_pred"]
    assert set(table["AU01_true"].unique()) <= {0, 1} and table["AU01_pred"].between(0, 1).all()
    f1_from_csv = [2 * ((table[f"AU{a:02d}_pred"] >= 0.5) & (table[f"AU{a:02d}_true"] == 1)).sum()
                   / max(1, ((table[f"AU{a:02d}_pred"] >= 0.5).sum() + table[f"AU{a:02d}_true"].sum()))
                   for a in result.scores.aus]
    np.testing.assert_allclose(100 * np.array(f1_from_csv), list(result.scores.f1.values()), atol=1e-6)
    # the paired comparison's per-subject F1, from the file, is the stored one
    from auzoo.report.per_subject import per_subject_scores
    read = RunResult.read(tmp_path / "run" / "result.json")
    from_csv = per_subject_scores(read, "f1")
    stored = {s: row["mean"] for s, row in read.scores.per_subject_f1.items()}
    assert set(from_csv) == set(stored)
    for subject, value in stored.items():
        assert (value is None and np.isnan(from_csv[subject])) or from_csv[subject] == pytest.approx(value)


def test_a_task_the_model_does_not_predict_is_refused(tiny_cache, tmp_path):
    text = TINY_CONFIG + "task = 'intensity'\nval_evaluator = [dict(type='AUIntensityMetric')]\n"
    with pytest.raises(ValueError, match="task is 'intensity' but model"):
        _train(_write(tmp_path, "tiny_wrong", text), tiny_cache, tmp_path / "run")
    pinned = INTENSITY.format(kind="RegressionIntensityHead", loss="IntensityMSELoss") + \
        "model = dict(aus=(1, 2, 3))\n"
    with pytest.raises(ValueError, match="AU 3"):
        _train(_write(tmp_path, "tiny_au3", pinned), tiny_cache, tmp_path / "run2")
