"""``auzoo predict`` with intensity models: OpenFace's ``AUxx_r`` (0-5) for an
intensity model, ``_r`` beside ``_prob`` / ``_c`` for a model with both heads."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mmengine.config import Config

import auzoo
from auzoo.inference import FRAME_COLUMNS, prediction_columns

from .conftest import write_checkpoint

AUS = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)


def _config(head: bool, intensity: bool) -> Config:
    return Config(dict(img_size=64, model=dict(
        type="RegionAUNet", aus=AUS, backbone=dict(type="TimmBackbone", model_name="test_resnet"),
        neck=None, splitter=dict(type="WholeFaceSplitter"), attention=[],
        head=dict(type="TwoFCHead", pool_size=1, hidden=16, dropout=0.0) if head else None,
        intensity_head=dict(type="OrdinalIntensityHead", pool_size=1, hidden=16, dropout=0.0)
        if intensity else None,
        branches=[dict(region="face")])))


@pytest.fixture(scope="module")
def intensity_ckpt(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "intensity.pth",
                            _config(False, True), "tiny_intensity")


@pytest.fixture(scope="module")
def both_ckpt(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "both.pth", _config(True, True),
                            "tiny_both")


def test_column_names_by_task():
    assert prediction_columns((1, 26), "intensity") == ["AU01_r", "AU26_r"]
    assert prediction_columns((1,), "both") == ["AU01_r", "AU01_prob", "AU01_c"]
    assert prediction_columns((1,)) == ["AU01_prob", "AU01_c"]


def test_an_intensity_model_writes_r_columns_on_the_0_to_5_scale(photos, intensity_ckpt, tmp_path):
    out = tmp_path / "au.csv"
    df = auzoo.predict([photos["grace_hopper"], photos["astronaut"]], weights=intensity_ckpt,
                       progress=False, out=out)
    assert list(df.columns) == list(FRAME_COLUMNS) + [f"AU{a:02d}_r" for a in AUS]
    values = df[[f"AU{a:02d}_r" for a in AUS]].to_numpy()
    assert (df["success"] == 1).all() and (values >= 0).all() and (values <= 5).all()
    assert df.attrs["task"] == "intensity" and "0-5" in df.attrs["columns"]
    written = pd.read_csv(out)
    np.testing.assert_allclose(written[[f"AU{a:02d}_r" for a in AUS]].to_numpy(), values, atol=1e-5)


def test_both_heads_give_r_beside_prob_and_c(photos, both_ckpt):
    df = auzoo.predict([photos["grace_hopper"]], weights=both_ckpt, progress=False)
    assert list(df.columns) == list(FRAME_COLUMNS) + prediction_columns(AUS, "both")
    r = df[[f"AU{a:02d}_r" for a in AUS]].to_numpy()[0]
    prob = df[[f"AU{a:02d}_prob" for a in AUS]].to_numpy()[0]
    assert ((r >= 0) & (r <= 5)).all() and ((prob > 0) & (prob < 1)).all()
    np.testing.assert_array_equal(df[[f"AU{a:02d}_c" for a in AUS]].to_numpy(dtype=float)[0],
                                  (prob >= 0.5).astype(float))
    assert df.attrs["task"] == "both"


def test_openface_format_writes_the_r_columns(photos, intensity_ckpt, tmp_path):
    out = tmp_path / "openface.csv"
    auzoo.predict([photos["grace_hopper"]], weights=intensity_ckpt, progress=False, out=out,
                  format="openface")
    table = pd.read_csv(out, skipinitialspace=True)
    assert [c for c in table.columns if c.startswith("AU")] == [f"AU{a:02d}_r" for a in AUS]
    assert table["AU12_r"].between(0, 5).all()


@pytest.mark.parametrize("heads, outputs", [((False, True), ("intensity",)),
                                            ((True, True), ("logits", "intensity"))])
def test_an_exported_intensity_model_predicts_what_the_checkpoint_does(photos, tmp_path, heads,
                                                                       outputs):
    pytest.importorskip("onnxruntime", reason="the export extra: pip install -e .[export]")
    pytest.importorskip("onnxscript", reason="the export extra: pip install -e .[export]")
    from auzoo.export.exporter import export_onnx

    ckpt = write_checkpoint(tmp_path / "model.pth", _config(*heads), "tiny")
    result = export_onnx(ckpt, tmp_path / "model.onnx")
    assert result.metadata.outputs == outputs
    inputs = [photos["grace_hopper"]]
    from_torch = auzoo.predict(inputs, weights=ckpt, progress=False, device="cpu")
    from_onnx = auzoo.predict(inputs, weights=result.path, progress=False, device="cpu")
    assert list(from_onnx.columns) == list(from_torch.columns)
    columns = [c for c in from_torch.columns if c.startswith("AU") and not c.endswith("_c")]
    np.testing.assert_allclose(from_onnx[columns].to_numpy(float),
                               from_torch[columns].to_numpy(float), atol=1e-4)
