"""``--img-size`` reaches ME-GraphAU's Swin: the size is written into the
backbone it is built for, so a bench of a CNN and a Swin model at 64 px runs
both (before, the CNN trained and Swin, built for 224, then failed)."""
import json

import pandas as pd
import pytest

from auzoo import cli
from auzoo.engine.input_size import check_input_size
from auzoo.engine.settings import resolve_config

# ME-GraphAU stage 1 on a small Swin (one block per stage), built as the
# config declares it: model.backbone.img_size.
SMALL_SWIN = """_base_ = ['auzoo::megraphau_swinb_stage1']
model = dict(channels=64, backbone=dict(embed_dim=32, depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1)))
"""
CNN = """_base_ = ['auzoo::megraphau_r50_stage1']
model = dict(channels=64, backbone=dict(model_name='test_resnet'))
"""


@pytest.mark.parametrize("model", ["megraphau_swinb", "megraphau_swinb_stage1"])
def test_img_size_reaches_swin(model):
    assert resolve_config(model).model.backbone.img_size == 224
    assert resolve_config(model, {"img_size": 96}).model.backbone.img_size == 96
    demo = resolve_config(model, preset="cpu_demo")  # the preset's size, not a demo entry's
    assert demo.img_size == demo.model.backbone.img_size == 64
    assert "model.backbone.img_size" not in demo.applied["demo"]


def test_swin_b_takes_64_px():
    check_input_size(resolve_config("megraphau_swinb", {"img_size": 64}))  # Swin-B, one face


def test_bench_runs_a_cnn_and_swin_at_64_px(tiny_disfa, tmp_path, capsys):
    (tmp_path / "cnn.py").write_text(CNN)
    (tmp_path / "swin.py").write_text(SMALL_SWIN)
    out = tmp_path / "out"
    code = cli.main(["bench", str(tmp_path / "cnn.py"), str(tmp_path / "swin.py"), "--data",
                     str(tiny_disfa), "--img-size", "64", "--folds", "1", "--max-epochs", "1",
                     "--iters-per-epoch", "2", "--batch-size", "4", "--device", "cpu",
                     "--out", str(out), "--cfg-options", "val_subjects=1"])
    assert code == 0, capsys.readouterr().err
    for name in ("cnn", "swin"):
        result = json.loads((out / "cells" / name / "fold1" / "seed0" / "result.json").read_text())
        assert result["provenance"]["img_size"] == 64
    assert {"cnn", "swin"} <= set(pd.read_csv(out / "results.csv")["model"])
