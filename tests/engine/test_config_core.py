"""The config-driven core: labels follow the model's AUs, mmengine's own
schema changes the run, a plugin's loss / metric / hook named in a config are
used, old keys are refused by their new names, and the one inference path."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from auzoo.engine.records import RunResult, RunSpec
from engine_support import HERE, TINY_CONFIG

PLUGIN_DIR = HERE / "plugin_parts"


@pytest.fixture(scope="module", autouse=True)
def plugin_parts():
    sys.path.insert(0, str(PLUGIN_DIR))
    import auzoo_test_parts  # noqa: F401  (registers the parts)
    yield
    sys.path.remove(str(PLUGIN_DIR))


def _write(tmp_path: Path, name: str, extra: str) -> Path:
    """A config that inherits the tiny one (one epoch) and changes ``extra``."""
    base = tmp_path / "tiny_base.py"
    base.write_text(TINY_CONFIG + "train_cfg = dict(max_epochs=1)\n")
    path = tmp_path / f"{name}.py"
    path.write_text("_base_ = ['./tiny_base.py']\n" + extra)
    return path


def _train(config: Path, cache, tmp_path: Path, **spec) -> RunResult:
    from auzoo.engine.train import train

    return train(RunSpec(model=str(config), data=str(cache), fold=1,
                         work_dir=str(tmp_path / f"run-{config.stem}"), device="cpu", **spec))


def _label_columns(cache_path, subjects, aus):
    from auzoo.data import open_cache

    cache = open_cache(cache_path)
    rows = cache.dataset.select_frames(cache.index, subjects, "drop")
    labels, known = cache.dataset.labels(rows, aus)
    return labels, known


def _always_present_f1(labels: np.ndarray) -> np.ndarray:
    p = labels.mean(axis=0)
    return 100 * 2 * p / (1 + p)


@pytest.mark.parametrize("aus", [(26, 25, 12, 9, 6, 4, 2, 1), (6, 12)])
def test_labels_follow_the_models_aus(aus, tiny_cache, tmp_path):
    config = _write(tmp_path, f"aus{len(aus)}", f"model = dict(aus={aus})\n")
    result = _train(config, tiny_cache, tmp_path)
    assert result.scores.aus == aus and list(result.scores.f1) == [f"AU{a}" for a in aus]
    labels, _ = _label_columns(tiny_cache, result.provenance.test_subjects, aus)
    expected = _always_present_f1(labels)
    got = [result.scores.baseline_f1[f"AU{a}"] for a in aus]
    assert got == pytest.approx(expected, abs=1e-9)
    # and the counts are that column's: TP + FN = the AU's positives
    for j, a in enumerate(aus):
        c = result.scores.counts[f"AU{a}"]
        assert c["tp"] + c["fn"] == int(labels[:, j].sum())


def test_an_au_the_data_does_not_code_is_refused_by_name(tiny_cache, tmp_path):
    config = _write(tmp_path, "au7", "model = dict(aus=(1, 2, 7))\n")
    with pytest.raises(ValueError, match=r"\(1, 2, 7\).*disfa codes only.*AU 7"):
        _train(config, tiny_cache, tmp_path)


def test_schedule_and_optimizer_from_the_config_change_the_run(tiny_cache, tmp_path):
    record = tmp_path / "lr.jsonl"
    config = _write(tmp_path, "cosine", f"""
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=0.01, weight_decay=0.0, _delete_=True),
                     clip_grad=dict(max_norm=1.0))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, T_max=3, eta_min=0.001)]
custom_hooks = [dict(type='RecordLrHook', out={str(record)!r})]
""")
    _train(config, tiny_cache, tmp_path)
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    assert {r["optimizer"] for r in rows} == {"AdamW"}
    assert {r["max_norm"] for r in rows} == {1.0}
    lrs = [r["lr"] for r in rows]  # the lr each of the 3 iterations ran with
    import math
    expected = [0.001 + 0.009 * (1 + math.cos(math.pi * t / 3)) / 2 for t in range(3)]
    assert lrs == pytest.approx(expected)
    log = next((tmp_path / "run-cosine").rglob("*.log")).read_text()
    assert "AdamW" in log


def test_a_plugins_loss_metric_and_hook_are_used(tiny_cache, tmp_path):
    from auzoo_test_parts import CountingLoss

    record = tmp_path / "lr.jsonl"
    config = _write(tmp_path, "plugged", f"""
loss = dict(type='CountingLoss', reduction='mean', _delete_=True)
val_evaluator = [dict(type='AUMetric'), dict(type='FramesSeenMetric')]
custom_hooks = [dict(type='RecordLrHook', out={str(record)!r})]
""")
    CountingLoss.calls = 0
    result = _train(config, tiny_cache, tmp_path)
    assert CountingLoss.calls == 3  # one epoch of 3 iterations
    assert CountingLoss.bound_labels.shape[1] == 8
    assert len(record.read_text().splitlines()) == 3
    scalars = [json.loads(line) for line in
               next((tmp_path / "run-plugged").rglob("scalars.json")).read_text().splitlines()]
    seen = [s["probe/frames_seen"] for s in scalars if "probe/frames_seen" in s]
    assert seen == [result.scores.frames]


def test_first_schema_keys_name_their_new_place(tiny_cache, tmp_path):
    from auzoo.engine.settings import resolve_config

    with pytest.raises(KeyError, match="train_cfg.max_epochs"):
        resolve_config("tranet", {"train.max_epochs": 3})
    with pytest.raises(KeyError, match="optim_wrapper.optimizer"):
        resolve_config("tranet", {"train.optimizer.lr": 0.1})


def test_a_compile_dict_merges_onto_the_default(tiny_cache):
    from auzoo.engine.settings import resolve_config

    cfg = resolve_config("tranet", {"compile.mode": "max-autotune"})
    assert cfg.compile == {"mode": "max-autotune"}


def test_eval_and_predict_share_the_inference_path(tiny_cache, tmp_path):
    """Validation's logits of a frame, eval's and a Predictor-style call on the
    same uint8 face are the same numbers."""
    from auzoo.data import open_cache
    from auzoo.engine.checkpoint import build_from_checkpoint
    from auzoo.engine.evaluate import Scoring, predict_frames
    from auzoo.engine.inference import Inference

    config = _write(tmp_path, "shared", "")
    result = _train(config, tiny_cache, tmp_path)
    net = build_from_checkpoint(result.training.checkpoint)
    cache = open_cache(tiny_cache)
    subject = result.provenance.test_subjects[0]
    p = predict_frames(net, cache, [subject], net.aus, Scoring(48, "cpu"))
    from auzoo.data.transforms import config_pipeline
    pipeline = config_pipeline(net.cfg, "test", 48)
    faces = [pipeline(crop, pts, valid=tuple(box))["img"] for crop, pts, box in
             zip(cache.frames(subject)[:5], cache.landmarks(subject)[:5], cache.frame_boxes(subject)[:5])]
    direct = Inference(net, 48)(np.stack(faces)).numpy()
    rows = cache.dataset.select_frames(cache.index, [subject], "drop")
    first = rows["frame"].to_numpy()[:5]
    if np.array_equal(first, np.arange(5)):
        np.testing.assert_allclose(p.logits[:5], direct, rtol=0, atol=1e-6)
    import inspect

    import auzoo.engine.model as engine_model
    import auzoo.inference as inference_pkg
    assert "Inference" in inspect.getsource(engine_model)
    assert any("Inference" in inspect.getsource(m) for m in _modules(inference_pkg))


def _modules(package):
    import importlib
    import pkgutil
    return [importlib.import_module(f"{package.__name__}.{m.name}")
            for m in pkgutil.iter_modules(package.__path__)]


def test_frozen_random_backbone_is_refused_without_the_flag(tiny_cache, tmp_path):
    config = tmp_path / "frozen.py"
    config.write_text(TINY_CONFIG.replace("allow_random_init = True", "allow_random_init = False")
                      + "train_cfg = dict(max_epochs=1)\n")
    with pytest.raises(Exception, match="allow-random-init"):
        _train(config, tiny_cache, tmp_path)
    result = _train(config, tiny_cache, tmp_path, allow_random_init=True)
    assert result.provenance.backbone_init["weights"] == "random"


def test_bf16_training_needs_no_grad_scaler_and_logs_at_the_interval(tiny_cache):
    """The optimizer wrapper for bf16 is plain (no GradScaler, so no
    found_inf.item() a step), and train_step hands the logger a loss only every
    log_interval iterations."""
    from mmengine.optim import OptimWrapper

    import auzoo
    from auzoo.engine.losses import AUBCELoss
    from auzoo.engine.model import AUDetectorModule

    net = auzoo.build_model("tranet", **{"backbone.frozen_stages": 0})
    loss = AUBCELoss("branch_sum")
    module = AUDetectorModule(net, loss, img_size=32, precision=dict(train="bf16"),
                              log_interval=3)
    loss.bind(net)
    wrapper = OptimWrapper(torch.optim.SGD(net.parameters(), lr=0.0))
    batch = dict(image=torch.randint(0, 255, (2, 32, 32, 3), dtype=torch.uint8),
                 labels=torch.ones(2, 8), label_mask=torch.ones(2, 8, dtype=torch.bool),
                 landmarks=torch.zeros(2, 66, 2), index=torch.arange(2))
    logged = [module.train_step(batch, wrapper) for _ in range(6)]
    assert [bool(x) for x in logged] == [False, False, True, False, False, True]
    assert "loss" in logged[2]


def test_training_with_loader_workers_outside_fork(tiny_cache, tmp_path):
    """Workers start through the forkserver (not fork): the dataset, sampler
    and collate function must pickle, and the run must match a worker-less one."""
    config = _write(tmp_path, "workers", "train_dataloader = dict(num_workers=1)\n"
                                         "val_dataloader = dict(num_workers=1)\n")
    result = _train(config, tiny_cache, tmp_path)
    assert result.training.iters == 3 and result.scores.frames > 0


def test_batch_that_does_not_split_over_ranks_is_refused_with_the_fix():
    from auzoo.engine.dist import global_batch_split

    assert global_batch_split(64, 4) == 16
    with pytest.raises(ValueError, match=r"batch_size=63 or 66"):
        global_batch_split(64, 3)


def test_deterministic_sets_the_cublas_workspace(tiny_cache, tmp_path, monkeypatch):
    import os

    from auzoo.data import open_cache
    from auzoo.engine.runner import RunPlan, runner_config
    from auzoo.engine.settings import resolve_config
    from auzoo.engine.train import fold_split

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    config = _write(tmp_path, "det", "randomness = dict(deterministic=True)\n")
    cfg = resolve_config(str(config))
    cache = open_cache(tiny_cache)
    rc = runner_config(cfg, RunPlan(data=str(tiny_cache), aus=cache.dataset.aus,
                       split=fold_split(cfg, cache, 1, 0), seed=0, work_dir=tmp_path / "w",
                       device=torch.device("cpu"), launcher="none", resume=False,
                       predictions_file="p.npz"))
    assert rc.randomness.deterministic is True
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_a_two_stage_recipe_trains_stage_one_first_and_takes_its_weights(tiny_cache, tmp_path):
    from auzoo.engine.checkpoint import CheckpointError, load_checkpoint

    first = _write(tmp_path, "first", "")
    second = _write(tmp_path, "second", f"init_from = dict(config={str(first)!r}, "
                                        "keys=['backbone.'])\n")
    result = _train(second, tiny_cache, tmp_path)
    stage_dir = tmp_path / "run-second" / "init_from" / "first"
    stage_one = RunResult.read(stage_dir / "result.json")
    assert stage_one.provenance.fold == 1 and stage_one.provenance.seed == 0
    record = result.provenance.extra["init_from"]
    assert record["keys"] == ["backbone."] and record["tensors"] > 0
    assert record["checkpoint"] == stage_one.training.checkpoint
    # the first stage's backbone is where stage two started: with lr 0 they stay equal
    frozen = _write(tmp_path, "second_lr0", f"init_from = dict(config={str(first)!r}, "
                                            "keys=['backbone.'])\n"
                                            "optim_wrapper = dict(optimizer=dict(lr=0.0, "
                                            "momentum=0.0, weight_decay=0.0))\n")
    out = _train(frozen, tiny_cache, tmp_path)
    _, s1 = load_checkpoint(RunResult.read(tmp_path / "run-second_lr0" / "init_from" / "first"
                                           / "result.json").training.checkpoint)
    _, s2 = load_checkpoint(out.training.checkpoint)
    weights = [k for k in s1 if k.startswith("backbone.") and "running" not in k
               and "num_batches" not in k]
    assert weights and all(torch.equal(s1[k], s2[k]) for k in weights)
    # a prefix that matches nothing in the model is an error that names it
    wrong = _write(tmp_path, "wrong", f"init_from = dict(config={str(first)!r}, keys=['backbone_x.'])\n")
    with pytest.raises(CheckpointError, match="backbone_x"):
        _train(wrong, tiny_cache, tmp_path)


def test_a_model_asking_for_train_subjects_gets_the_folds_and_the_loss_the_names(tiny_cache,
                                                                                  tmp_path):
    """A model config with ``train_subjects=None`` (an identity-adversarial head)
    is built with the fold's training subjects, the loss sees each training
    frame's subject name in its batch, and the checkpoint rebuilds the same model."""
    import torch.nn.functional as F
    from torch import nn

    from auzoo.data import open_cache
    from auzoo.engine.checkpoint import build_from_checkpoint
    from auzoo.engine.losses import masked_mean
    from auzoo.registry import LOSSES, MODELS

    seen, bound = [], []

    class SubjectProbe(nn.Module):
        def __init__(self, aus=(1, 2, 4, 6, 9, 12, 25, 26), train_subjects=None):
            super().__init__()
            self.aus = tuple(aus)
            self.train_subjects = tuple(train_subjects)  # refuses None: the run must fill it
            self.fc = nn.Linear(3, len(aus))
            self.who = nn.Linear(3, len(self.train_subjects))

        def forward(self, images, landmarks=None):
            return self.fc(images.mean(dim=(2, 3)))

    class SubjectLoss(nn.Module):
        def bind(self, model, train_labels=None):
            bound.append(model.train_subjects)

        def forward(self, outputs, labels, mask, batch):
            seen.append(list(batch["subject"]))
            bce = F.binary_cross_entropy_with_logits(outputs["logits"], labels, reduction="none")
            return masked_mean(bce, mask)

    MODELS.register_module("SubjectProbe", module=SubjectProbe, force=True)
    LOSSES.register_module("SubjectLoss", module=SubjectLoss, force=True)
    try:
        config = _write(tmp_path, "subjects", "model = dict(type='SubjectProbe', train_subjects=None, "
                        "_delete_=True)\nloss = dict(type='SubjectLoss', _delete_=True)\n")
        result = _train(config, tiny_cache, tmp_path)
        net = build_from_checkpoint(result.training.checkpoint)
    finally:
        MODELS.unregister("SubjectProbe")
        LOSSES.unregister("SubjectLoss")
    train_subjects, _ = open_cache(tiny_cache).fold_subjects(1)
    assert bound == [tuple(train_subjects)]
    assert len(seen) == 3 and all(len(names) == 8 for names in seen)  # 3 batches of 8
    assert {s for names in seen for s in names} <= set(train_subjects)
    assert net.train_subjects == tuple(train_subjects) and net.who.out_features == 18
