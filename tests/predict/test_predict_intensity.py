"""``auzoo predict`` with intensity models: OpenFace's ``AUxx_r`` (0-5) for an
intensity model, ``_r`` beside ``_prob`` / ``_c`` for a model with both heads."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mmengine.config import Config

import auzoo
from auzoo.inference import FRAME_COLUMNS, au_columns

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
    assert au_columns((1, 26), "intensity") == ["AU01_r", "AU26_r"]
    assert au_columns((1,), "both") == ["AU01_r", "AU01_prob", "AU01_c"]
    assert au_columns((1,)) == ["AU01_prob", "AU01_c"]


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
    assert list(df.columns) == list(FRAME_COLUMNS) + au_columns(AUS, "both")
    r = df[[f"AU{a:02d}_r" for a in AUS]].to_numpy()[0]
    prob = df[[f"AU{a:02d}_prob" for a in AUS]].to_numpy()[0]
    assert ((r >= 0) & (r <= 5)).all() and ((prob > 0) & (prob < 1)).all()
    np.testing.assert_array_equal(df[[f"AU{a:02d}_c" for a in AUS]].to_numpy(dtype=float)[0],
                                  (prob >= 0.5).astype(float))
    assert df.attrs["task"] == "both"
