"""``auzoo predict`` through an exported ONNX file: the same table as the checkpoint."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import torch
from mmengine.config import Config

import auzoo
from auzoo import cli
from auzoo.engine.checkpoint import save_checkpoint

pytest.importorskip("onnxruntime", reason="the export extra: pip install -e .[export]")
pytest.importorskip("onnxscript", reason="the export extra: pip install -e .[export]")

from auzoo.export import export_onnx  # noqa: E402

PROB_ATOL = 1e-4


def _split(table: pd.DataFrame):
    probs = [c for c in table.columns if c.endswith("_prob")]
    return table[probs].to_numpy(), table.drop(columns=probs)


def assert_same_table(onnx_table: pd.DataFrame, torch_table: pd.DataFrame) -> None:
    """Faces, boxes, ids and frames identical; probabilities within 1e-4."""
    assert list(onnx_table.columns) == list(torch_table.columns)
    got, rest = _split(onnx_table)
    want, want_rest = _split(torch_table)
    pd.testing.assert_frame_equal(rest.drop(columns=[c for c in rest if c.endswith("_c")]),
                                  want_rest.drop(columns=[c for c in want_rest if c.endswith("_c")]))
    assert (torch_table["success"] == 1).all() and np.isfinite(want).all()
    np.testing.assert_allclose(got, want, rtol=0, atol=PROB_ATOL)
    # presence follows the probabilities (a face right at 0.5 could flip; none is here)
    assert np.abs(want - 0.5).min() > PROB_ATOL
    np.testing.assert_array_equal(onnx_table.filter(like="_c").to_numpy(dtype=float),
                                  torch_table.filter(like="_c").to_numpy(dtype=float))


def test_video_through_onnx_gives_the_checkpoints_table(grace_video, tiny_ckpt, tmp_path, capsys):
    onnx_file = export_onnx(tiny_ckpt, tmp_path / "tiny.onnx").path
    torch_table = auzoo.predict(grace_video, weights=tiny_ckpt, progress=False, workers=0,
                                batch_size=4)
    out = tmp_path / "au.csv"
    # the command line: no config, no --model
    assert cli.main(["predict", str(grace_video), "--weights", str(onnx_file), "--out", str(out),
                     "--batch-size", "4", "--workers", "0", "--device", "cpu"]) == 0
    assert "wrote" in capsys.readouterr().err
    onnx_table = pd.read_csv(out)
    assert len(onnx_table) == len(torch_table) == 6
    torch_csv = tmp_path / "torch.csv"
    torch_table.to_csv(torch_csv, index=False)
    assert_same_table(onnx_table, pd.read_csv(torch_csv))
    # the provenance says which runtime ran which file, and the weights it came from
    prov = json.loads(out.with_name(out.name + ".json").read_text())
    assert prov["settings"]["runtime"] == "onnxruntime (CPUExecutionProvider)"
    assert prov["model"] == "tiny" and prov["weights"] == str(onnx_file)
    assert prov["export"]["checkpoint"]["sha256"] == hashlib.sha256(tiny_ckpt.read_bytes()).hexdigest()
    assert torch_table.attrs["settings"]["runtime"] == "torch"


def _randomized_checkpoint(path, cfg, name):
    """Random weights and random BatchNorm statistics: a model whose outputs move
    with its input (at initialisation they hardly do)."""
    from models.helpers import randomize_  # tests/models

    torch.manual_seed(0)
    net = randomize_(auzoo.build_model(cfg))
    return save_checkpoint(path, net.state_dict(), dict(
        config=cfg.pretty_text, model=name, aus=list(net.aus), img_size=cfg.img_size))


def test_landmark_model_and_its_recipe_through_onnx(photos, tmp_path, monkeypatch):
    """JAA-Lite with JAA-Net's recipe: the .onnx file carries the test pipeline, and
    predict hands onnxruntime the faces it aligned by it, and their 66 points, exactly
    as it hands them to the checkpoint's model."""
    pytest.importorskip("auzoo_jaa_lite")
    from auzoo.engine.inference import Inference
    from auzoo.inference.backends import OnnxInference

    recipe = [dict(type="AlignEyeBox", size=100, enlarge=2.9, border=64),
              dict(type="CenterCrop", size=88)]
    cfg = Config(dict(img_size=64, test_pipeline=recipe, model=dict(
        type="JAALite", backbone=dict(type="TimmBackbone", model_name="test_resnet",
                                      out_indices=(2,)), width=8)))
    ckpt = _randomized_checkpoint(tmp_path / "jaa.pth", cfg, "jaa_lite_small")
    onnx_file = export_onnx(ckpt, tmp_path / "jaa.onnx").path
    seen = {}
    for runtime, cls in (("torch", Inference), ("onnxruntime", OnnxInference)):
        def record(self, frames, landmarks=None, _real=cls.probabilities, _key=runtime):
            seen.setdefault(_key, []).append((np.array(frames), np.array(landmarks)))
            return _real(self, frames, landmarks)
        monkeypatch.setattr(cls, "probabilities", record)
    inputs = [photos["grace_hopper"], photos["astronaut"]]
    torch_table = auzoo.predict(inputs, weights=ckpt, progress=False, workers=0)
    onnx_table = auzoo.predict(inputs, weights=onnx_file, progress=False, workers=0)
    assert len(onnx_table) == 2
    assert_same_table(onnx_table, torch_table)
    steps = onnx_table.attrs["settings"]["pipeline"]
    assert steps == torch_table.attrs["settings"]["pipeline"]
    assert [s["type"] for s in steps] == ["AlignEyeBox", "CenterCrop", "Resize"]
    faces = {k: np.concatenate([f for f, _ in v]) for k, v in seen.items()}
    points = {k: np.concatenate([p for _, p in v]) for k, v in seen.items()}
    assert faces["torch"].shape == (2, 64, 64, 3) and points["torch"].shape == (2, 66, 2)
    np.testing.assert_array_equal(faces["onnxruntime"], faces["torch"])
    np.testing.assert_array_equal(points["onnxruntime"], points["torch"])
