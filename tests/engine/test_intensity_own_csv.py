"""A lab's own CSV with 0-5 values trains an intensity model; a 0/1 CSV has
no intensity to train on."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from auzoo.data.datasets.frames import OwnFramesDataset
from auzoo.data.synth import make_identity, render_frame
from auzoo.engine.records import RunSpec
from engine_support import TINY_CONFIG

W, H, SIZE = 640, 480, 48
LEVELS = (0, 1, 3, 5)   # AU12 (and AU6 one level lower) in the four images of each person


@pytest.fixture(scope="module")
def lab_cache(tmp_path_factory):
    from auzoo.data.datasets.frames.prepare import prepare_frames

    root = tmp_path_factory.mktemp("lab")
    rows = ["subject,path,AU06,AU12"]
    for person in range(3):
        identity = make_identity(np.random.default_rng(10 + person), W, H)
        for k, level in enumerate(LEVELS):
            drawn = np.zeros(12)
            drawn[[4, 6]] = max(level - 1, 0), level            # DISFA order: AU6, AU12
            cv2.imwrite(str(root / f"p{person}_{k}.jpg"), render_frame(identity, drawn, k, W, H)[0])
            rows.append(f"p{person},p{person}_{k}.jpg,{max(level - 1, 0)},{level}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    prepare_frames(root / "labels.csv", root / "cache", size=SIZE, folds=3, threshold=2)
    return root / "cache"


def test_a_0_to_5_csv_trains_an_intensity_model(lab_cache, tmp_path):
    from auzoo.data import open_cache
    from auzoo.engine.predictions import read_predictions_csv
    from auzoo.engine.train import train

    cache = open_cache(lab_cache)
    assert cache.dataset.intensity_aus == (6, 12) and cache.dataset.threshold == 2
    config = tmp_path / "own_intensity.py"
    config.write_text(TINY_CONFIG.replace("aus=(1, 2, 4, 6, 9, 12, 25, 26)", "aus=None").replace(
        "    head=dict(type='TwoFCHead', pool_size=1, hidden=16, dropout=0.0),\n",
        "    head=None,\n    intensity_head=dict(type='RegressionIntensityHead', pool_size=1, "
        "hidden=8),\n") + "task = 'intensity'\nloss = dict(_delete_=True, type='IntensityMSELoss')\n"
        "val_evaluator = [dict(type='AUIntensityMetric')]\ntrain_cfg = dict(max_epochs=1)\n"
        "train_dataloader = dict(batch_size=4, sampler=dict(iters_per_epoch=2))\n")
    result = train(RunSpec(model=str(config), data=str(lab_cache), fold=1,
                           work_dir=str(tmp_path / "run"), device="cpu"))
    assert result.intensity.aus == (6, 12) and result.provenance.dataset == "frames"
    table = read_predictions_csv(tmp_path / "run" / "predictions.csv")
    assert sorted(table["AU12_true"]) == sorted(LEVELS)           # one person's four images
    assert result.intensity.baseline_mae["AU12"] == pytest.approx(np.mean(LEVELS))


def test_a_0_1_csv_has_no_intensity():
    occurrence = OwnFramesDataset(aus=(6, 12), threshold=1, max_value=1, test_folds={1: ["a"]})
    assert occurrence.intensity_aus == ()
    with pytest.raises(ValueError, match="codes no AU intensity"):
        occurrence.check_intensity_aus(None)
    assert OwnFramesDataset(aus=(6,), max_value=7).intensity_aus == ()  # not a 0-5 scale
