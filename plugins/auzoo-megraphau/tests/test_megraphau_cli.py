"""Official MEFARG files from the command line: auzoo eval, predict and bench --weights."""
import json

import matplotlib
import pytest
import torch
from pathlib import Path

from auzoo import cli
from auzoo.engine.records import RunResult

from megraphau_official_files import official_state

# megraphau_r50 (stage 2) on timm's tiny test_resnet (96 channels), C = 64, at 48 px
TINY = ["--cfg-options", "model.backbone.model_name=test_resnet", "model.channels=64", "img_size=48"]


@pytest.fixture(scope="module")
def mefarg(tmp_path_factory):
    """MEFARG_test_resnet_DISFA_fold{1,2}.pth as the official trainer saves them."""
    folder = tmp_path_factory.mktemp("mefarg")
    torch.manual_seed(0)
    for fold in (1, 2):
        state = official_state(2, in_channels=96, backbone="test_resnet")
        torch.save({"epoch": 19, "state_dict": state, "optimizer": {"state": {}, "param_groups": []}},
                   folder / f"MEFARG_test_resnet_DISFA_fold{fold}.pth")
    return folder


def _run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_eval_scores_the_fold_the_file_held_out_and_says_what_it_loaded(mefarg, tiny_disfa,
                                                                         tmp_path, capsys):
    weights = mefarg / "MEFARG_test_resnet_DISFA_fold1.pth"
    out_csv = tmp_path / "scores.csv"
    code, out, err = _run(capsys, "eval", "megraphau_r50", "--data", tiny_disfa, "--weights",
                          weights, "--out", out_csv, *TINY)
    assert code == 0, err
    assert "megraphau_r50 fold 1 on disfa: test subjects SN003, SN004, SN005" in out
    assert "weights: megraphau-official: MEFARG_test_resnet_DISFA_fold1.pth (sha256" in out
    assert "assumed AU order [1, 2, 4, 6, 9, 12, 25, 26], dataset disfa, auzoo fold 1 (tests part3)" in out
    record = json.loads(Path(str(out_csv) + ".json").read_text())
    loaded = record["loaded_from"]
    import hashlib
    assert loaded["files"] == [{"file": str(weights),
                                "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}]
    assert loaded["format"] == "megraphau-official" and loaded["dataset"] == "disfa"
    assert loaded["aus"] == [1, 2, 4, 6, 9, 12, 25, 26] and loaded["official_fold"] == 1
    assert loaded["stage"] == 2 and "stage 2 has no k-NN graph (K = 3" in loaded["note"]
    assert record["fold"] == 1 and record["subjects"] == ["SN003", "SN004", "SN005"]
    # scored through ME-GraphAU's own test view: 5-point alignment to 256, centre 224
    assert record["pipeline"] == [dict(type="AlignFivePoint", size=256),
                                  dict(type="CenterCrop", size=224)] and record["img_size"] == 48
    assert record["scores"]["frames"] == 3 * 48


def test_eval_refuses_another_fold_an_au_order_and_a_missing_model(mefarg, tiny_disfa, capsys):
    weights = mefarg / "MEFARG_test_resnet_DISFA_fold1.pth"
    code, _, err = _run(capsys, "eval", "megraphau_r50", "--data", tiny_disfa, "--weights", weights,
                        "--fold", "2", *TINY)
    assert code == 2 and "refusing to score fold 2" in err and "SN006" in err
    code, _, err = _run(capsys, "eval", "megraphau_r50", "--data", tiny_disfa, "--weights", weights,
                        *TINY, "model.aus=(2,1,4,6,9,12,25,26)")
    assert code == 2
    assert "[1, 2, 4, 6, 9, 12, 25, 26]" in err and "[2, 1, 4, 6, 9, 12, 25, 26]" in err
    code, _, err = _run(capsys, "eval", "--data", tiny_disfa, "--weights", weights)
    assert code == 2 and "not an auzoo checkpoint" in err and "megraphau-official" in err


def test_a_file_without_a_fold_needs_one(mefarg, tiny_disfa, tmp_path, capsys):
    weights = tmp_path / "best_model.pth"
    weights.write_bytes((mefarg / "MEFARG_test_resnet_DISFA_fold2.pth").read_bytes())
    code, _, err = _run(capsys, "eval", "megraphau_r50", "--data", tiny_disfa, "--weights",
                        weights, *TINY)
    assert code == 2 and "give --fold K" in err
    code, out, err = _run(capsys, "eval", "megraphau_r50", "--data", tiny_disfa, "--weights",
                          weights, "--fold", "2", *TINY)
    assert code == 0, err
    assert "fold not known" in out and "fold 2 was scored as asked, unchecked" in out


def test_predict_with_the_model_named(mefarg, tmp_path, capsys):
    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    out_csv = tmp_path / "aus.csv"
    weights = mefarg / "MEFARG_test_resnet_DISFA_fold1.pth"
    code, _, err = _run(capsys, "predict", photo, "--weights", weights, "--model", "megraphau_r50",
                        "--out", out_csv, "--workers", "0", *TINY)
    assert code == 0, err
    import pandas as pd
    table = pd.read_csv(out_csv)
    assert table["success"].tolist() == [1] and "AU26_prob" in table
    provenance = json.loads(Path(str(out_csv) + ".json").read_text())
    assert provenance["model"] == "megraphau_r50" and provenance["settings"]["img_size"] == 48
    assert provenance["loaded_from"]["format"] == "megraphau-official"
    assert provenance["loaded_from"]["files"][0]["file"] == str(weights)


def test_export_of_the_official_file_predicts_as_the_file_does(mefarg, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    import hashlib

    import pandas as pd

    from auzoo.export import read_metadata

    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    weights = mefarg / "MEFARG_test_resnet_DISFA_fold1.pth"
    onnx_file = tmp_path / "mefarg.onnx"
    code, _, err = _run(capsys, "export", "megraphau_r50", "--weights", weights, "--out", onnx_file,
                        *TINY)
    assert code == 0, err
    meta = read_metadata(onnx_file)
    assert meta.model == "megraphau_r50" and meta.img_size == 48
    assert meta.checkpoint["format"] == "megraphau-official"
    assert meta.checkpoint_sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert [s["type"] for s in meta.test_pipeline] == ["AlignFivePoint", "CenterCrop"]
    tables = {}
    for name, argv in (("onnx", ["--weights", onnx_file]),
                       ("official", ["--weights", weights, "--model", "megraphau_r50", *TINY])):
        out_csv = tmp_path / f"{name}.csv"
        code, _, err = _run(capsys, "predict", photo, *argv, "--out", out_csv, "--workers", "0")
        assert code == 0, err
        tables[name] = pd.read_csv(out_csv)
    probs = [c for c in tables["onnx"] if c.endswith("_prob")]
    assert tables["onnx"]["success"].tolist() == [1]
    assert (tables["onnx"][probs] - tables["official"][probs]).abs().max().max() <= 1e-4


def test_bench_scores_each_folds_file_without_training(mefarg, tiny_disfa, tmp_path, capsys):
    out = tmp_path / "bench"
    pattern = str(mefarg / "MEFARG_test_resnet_DISFA_fold{fold}.pth")
    code, stdout, err = _run(capsys, "bench", "megraphau_r50", "--data", tiny_disfa, "--weights",
                             pattern, "--folds", "1,2", "--out", out, *TINY)
    assert code == 0, err
    for fold, test in ((1, ["SN003", "SN004", "SN005"]), (2, ["SN006"])):
        cell = out / "cells" / "megraphau_r50@weights" / f"fold{fold}" / "seed0"
        result = RunResult.read(cell / "result.json")
        assert result.training is None and not list(cell.glob("*.pth"))  # nothing trained
        p = result.provenance
        assert p.model == "megraphau_r50@weights" and p.fold == fold and p.test_subjects == test
        w = p.extra["weights"]
        assert w["files"][0]["file"].endswith(f"DISFA_fold{fold}.pth") and w["fold"] == fold
        assert w["model"] == "megraphau_r50" and w["fold_checked"] is True
    report = (out / "results.md").read_text()
    assert "megraphau_r50@weights: no training, megraphau-official weights" in report
    assert "ME-GraphAU (ResNet-50)" in report  # beside the row published for the model
    # one fold's file for every fold: the fold it trained on is refused, the bench says which
    code, _, err = _run(capsys, "bench", "megraphau_r50", "--data", tiny_disfa, "--weights",
                        mefarg / "MEFARG_test_resnet_DISFA_fold1.pth", "--folds", "2",
                        "--out", tmp_path / "wrong", *TINY)
    assert code == 1 and "refusing to score fold 2" in err
    code, _, err = _run(capsys, "bench", "megraphau_r50", "--data", tiny_disfa, "--weights",
                        str(mefarg / "MEFARG_fold{fold}_missing.pth"), "--out", tmp_path / "x")
    assert code == 2 and "MEFARG_fold1_missing.pth" in err
