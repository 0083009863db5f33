"""Intensity reports: intensity_results.csv (means over folds, the zero
predictor), results.md beside the registered published rows, the paired
comparison on ICC read from predictions.csv, plots; and a folder with both tasks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auzoo.engine.evaluate import score_intensity
from auzoo.engine.intensity_metrics import per_subject_icc
from auzoo.engine.predictions import Predictions, write_predictions_csv
from auzoo.engine.records import Provenance, RunResult, RunSpec, Training
from bench_fake_train import fake_train

AUS = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
FRAMES = 30   # per subject


def _subjects(fold):
    return [f"SN{fold}{i}" for i in range(3)]


def _labels(fold):
    rng = np.random.default_rng(fold)
    return rng.integers(0, 6, size=(3 * FRAMES, len(AUS))).astype(float)


def _prediction(model, fold, y):
    rng = np.random.default_rng([fold, len(model)])
    noise = {"good": 0.3, "poor": 2.0}[model]
    return np.clip(y + rng.normal(0, noise, y.shape), 0, 5)


def _result(tmp_path, model, fold) -> RunResult:
    work = tmp_path / "cells" / model / f"fold{fold}"
    work.mkdir(parents=True)
    y = _labels(fold)
    p = _prediction(model, fold, y)
    subjects = np.repeat(_subjects(fold), FRAMES)
    n = len(y)
    predictions = Predictions(None, (y >= 2).astype(np.uint8), np.ones(y.shape, bool), np.arange(n),
                              subjects, AUS, intensity=p, intensity_true=y,
                              intensity_mask=np.ones(y.shape, bool),
                              frames=np.tile(np.arange(FRAMES), 3))
    write_predictions_csv(work / "predictions.csv", predictions)
    provenance = Provenance(
        model=model, config="", dataset="disfa", data=str(tmp_path / "disfa_cache"),
        data_checksum="abc", protocol=dict(aus=[1], intensity=dict(aus=list(AUS), scale="0-5",
                                                                    reference="ref text")),
        fold=fold, train_subjects=[], val_subjects=[], test_subjects=_subjects(fold),
        bad_frames="drop", select_on="test", seed=0, img_size=64, schedule={}, precision={},
        backbone_init=dict(weights="random"), versions=dict(auzoo="test"), device="cpu")
    training = Training(best_epoch=2, epochs=3, iters=9, stopped_early=False,
                        selection_f1_mean=0.5, train_time=1.0, eval_time=0.5, params=1,
                        trainable_params=1, checkpoint=str(work / "best.pth"),
                        selected_by="icc_mean")
    result = RunResult(scores=None, provenance=provenance, training=training,
                       intensity=score_intensity(p, y, None, subjects, AUS))
    result.write(work / "result.json")
    return RunResult.read(work / "result.json")


@pytest.fixture
def results(tmp_path):
    return [_result(tmp_path, m, f) for m in ("good", "poor") for f in (1, 2)]


def test_intensity_table_means_over_folds_and_the_zero_predictor(results):
    from auzoo.report.intensity import ZERO, intensity_frame
    from auzoo.report.tables import model_means

    frame = intensity_frame(results)
    means = model_means(frame)
    good = [r.intensity for r in results if r.provenance.model == "good"]
    assert means.loc["good", "icc_AU12"] == pytest.approx(np.mean([s.icc["AU12"] for s in good]))
    assert means.loc["good", "mae_mean"] == pytest.approx(np.mean([s.mae_mean for s in good]))
    label_means = [_labels(f)[:, AUS.index(6)].mean() for f in (1, 2)]
    assert means.loc[ZERO, "mae_AU6"] == pytest.approx(np.mean(label_means))   # MAE of 0 = mean label
    assert means.loc[ZERO, "icc_mean"] == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(means.loc[ZERO, "pcc_mean"])
    assert means.loc["good", "icc_mean"] > 0.8 > means.loc["poor", "icc_mean"]


def test_report_files_and_the_paired_comparison_on_icc(results, tmp_path):
    from auzoo.report.write import write_reports

    out = tmp_path / "report"
    out.mkdir()
    report = write_reports(out, results, synthetic=True)
    assert report["frame"] is None and not (out / "results.csv").exists()
    assert (out / "intensity_results.csv").is_file()
    text = (out / "results.md").read_text()
    for heading in ("### ICC(3,1)", "### PCC", "### MAE", "*zero predictor*", "Synthetic data",
                    "## Published intensity results on DISFA", "LibreFace", "5-fold",
                    "Paired comparison over test subjects (ICC)", "ref text"):
        assert heading in text, heading
    assert (out / "intensity_comparison.csv").is_file()
    comparison = report["intensity_comparison"].iloc[0]
    # per subject ICC from the predictions.csv files, by hand
    by_model = {}
    for model in ("good", "poor"):
        per = []
        for fold in (1, 2):
            y = _labels(fold)
            table = per_subject_icc(y, _prediction(model, fold, y), np.repeat(_subjects(fold), FRAMES), AUS)
            per += list(table["mean"])
        by_model[model] = np.array(per)
    assert comparison["subjects"] == 6
    assert comparison["diff"] == pytest.approx((by_model["good"] - by_model["poor"]).mean())
    assert comparison["ci_low"] > 0
    for plot in ("good_intensity.png", "poor_intensity.png", "all_models_icc.png"):
        assert (out / "plots" / plot).stat().st_size > 5000


def test_a_folder_with_both_tasks_reports_both(results, tmp_path):
    from auzoo.report.write import write_reports

    occurrence = [fake_train(RunSpec(model="alpha", data=str(tmp_path / "disfa_cache"), fold=f,
                                     work_dir=str(tmp_path / "occ" / str(f)))) for f in (1, 2)]
    out = tmp_path / "both"
    out.mkdir()
    report = write_reports(out, occurrence + results, synthetic=False)
    assert set(report["frame"]["model"]) == {"alpha", "always-present"}
    assert set(report["intensity_frame"]["model"]) == {"good", "poor", "zero predictor"}
    text = (out / "results.md").read_text()
    assert "## F1-frame" in text and "## AU intensity: ICC(3,1), PCC, MAE" in text


def test_published_intensity_rows_carry_their_source():
    from auzoo.report.published_intensity import published_intensity_rows

    rows = {r.method: r for r in published_intensity_rows("bp4d")}
    submitted = rows["Baltrušaitis FERA 2015 SVR (submitted)"]
    assert submitted.metric == "pcc" and submitted.aus == (6, 10, 12, 14, 17)
    assert submitted.average == pytest.approx(0.6762) and "results_v2.xlsx" in submitted.source
    assert all(r.protocol and r.source and r.citation for r in published_intensity_rows())


def test_list_published_shows_the_intensity_rows(capsys):
    from auzoo.cli import main

    assert main(["list", "published"]) == 0
    out = capsys.readouterr().out
    assert "published AU intensity results" in out and "LibreFace" in out
