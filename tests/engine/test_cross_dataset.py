"""Scores across datasets: a model trained on DISFA scored on every subject of
a (synthetic) BP4D on the AUs both code, by `auzoo eval` and by `--test-data`;
and a model that adapts to BP4D's 12 AUs."""
from __future__ import annotations

import numpy as np
import pytest

from auzoo.engine.records import AUScores, RunSpec
from engine_support import TINY_CONFIG

SHARED = [1, 2, 4, 6, 12]  # DISFA's 8 AUs that BP4D codes too


@pytest.fixture(scope="module")
def bp4d_cache(tmp_path_factory):
    from auzoo.cli import main

    root = tmp_path_factory.mktemp("bp4d")
    assert main(["synth", "bp4d", str(root / "raw"), "--subjects", "3", "--frames", "12",
                 "--tasks", "2", "--width", "208", "--height", "278", "--seed", "4"]) == 0
    assert main(["prepare", "bp4d", str(root / "raw"), "--out", str(root / "cache"), "--size", "48",
                 "--landmarks", str(root / "raw" / "landmarks49")]) == 0
    return root / "cache"


def _config(tmp_path, extra: str = ""):
    path = tmp_path / "tiny_cross.py"
    path.write_text(TINY_CONFIG.replace("aus=(1, 2, 4, 6, 9, 12, 25, 26)", "aus=None")
                    + "train_cfg = dict(max_epochs=1)\n" + extra)
    return path


def test_test_data_and_eval_score_another_dataset_on_shared_aus(tiny_cache, bp4d_cache, tmp_path,
                                                              capsys):
    from auzoo.cli import main
    from auzoo.data import open_cache
    from auzoo.engine.train import train

    result = train(RunSpec(model=str(_config(tmp_path)), data=str(tiny_cache), fold=1,
                           work_dir=str(tmp_path / "run"), device="cpu",
                           test_data=(str(bp4d_cache),)))
    assert result.scores.aus == (1, 2, 4, 6, 9, 12, 25, 26)  # DISFA's, from the cache
    cross = result.cross[str(bp4d_cache)]
    assert cross["dataset"] == "bp4d" and cross["shared_aus"] == SHARED
    assert cross["left_out"] == {"model_only": [9, 25, 26], "data_only": [7, 10, 14, 15, 17, 23, 24]}
    scores = AUScores.from_dict(cross["scores"])
    bp4d = open_cache(bp4d_cache)
    assert sorted(scores.per_subject_f1) == sorted(bp4d.subjects)  # every subject, no fold
    rows = bp4d.dataset.select_frames(bp4d.index, bp4d.subjects, "drop")
    labels, known = bp4d.dataset.labels(rows, SHARED)
    # the baseline is each shared AU's own column, over its coded frames only
    for j, au in enumerate(SHARED):
        p = labels[known[:, j], j].mean()
        assert scores.baseline_f1[f"AU{au}"] == pytest.approx(100 * 2 * p / (1 + p))
    assert (~known).any(), "the synthetic BP4D should carry not-coded labels"

    code = main(["eval", "--weights", result.training.checkpoint, "--data", str(bp4d_cache),
                 "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0 and "every subject" in out and "model-only [9, 25, 26]" in out
    # the same numbers as the training run's --test-data scores
    from auzoo.engine.evaluate import evaluate_checkpoint
    again = evaluate_checkpoint(result.training.checkpoint, bp4d_cache, device="cpu")
    assert again["mode"] == "cross"
    assert again["scores"].f1 == pytest.approx(scores.f1)


def test_a_model_adapts_to_bp4ds_twelve_aus(bp4d_cache, tmp_path):
    from auzoo.engine.train import train

    result = train(RunSpec(model=str(_config(tmp_path, "val_dataloader = dict(batch_size=64)\n")),
                           data=str(bp4d_cache), fold=1, work_dir=str(tmp_path / "bp4d_run"),
                           device="cpu"))
    assert result.scores.aus == (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
    assert result.provenance.dataset == "bp4d"
    import auzoo
    from auzoo.engine.checkpoint import build_from_checkpoint
    net = build_from_checkpoint(result.training.checkpoint)
    assert tuple(net.aus) == result.scores.aus and len(net.loss_groups) == 3
    assert np.isfinite(result.scores.f1_mean)
    assert auzoo  # the checkpoint rebuilt the 12-output model from its own config
