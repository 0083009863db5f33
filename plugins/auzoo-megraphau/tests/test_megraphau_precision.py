"""ME-GraphAU trains and scores in fp32, on a GPU too: under bf16 autocast the
stage-1 k-NN graph built from rounded node similarities gets ties and other
neighbour sets (README, 'Official recipe and auzoo')."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from auzoo import cli

CONFIGS = ("megraphau_r50_stage1", "megraphau_r50", "megraphau_swinb_stage1", "megraphau_swinb")
FP32 = dict(train="fp32", eval="fp32")


def _runner_model(name: str, device: str, preset=None):
    """The module config a run of ``name`` would build on ``device``."""
    from auzoo.engine.runner import RunPlan, runner_config
    from auzoo.engine.settings import resolve_config

    cfg = resolve_config(name, preset=preset)
    rc = runner_config(cfg, RunPlan(data="cache", aus=tuple(cfg.model.aus),
                       split=dict(train=(), val=(), test=()), seed=0, work_dir=Path("work"),
                       device=torch.device(device), launcher="none", resume=False,
                       predictions_file="p.npz"))
    return rc.model


@pytest.mark.parametrize("preset", [None, "cpu_demo"])
@pytest.mark.parametrize("name", CONFIGS)
def test_every_megraphau_config_trains_in_fp32_on_a_gpu(name, preset):
    assert dict(_runner_model(name, "cuda", preset)["precision"]) == FP32


def _dtypes_in_a_training_step(module_cfg: dict, device: str):
    """Output dtypes of every conv and linear layer in one training step, and
    whether autocast was on while they ran."""
    from auzoo.registry import MODELS

    torch.manual_seed(0)
    module = MODELS.build(module_cfg).to(device)
    seen = []

    def probe(layer, inputs, output):
        seen.append((output.dtype, torch.is_autocast_enabled(device)))

    for layer in module.model.modules():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            layer.register_forward_hook(probe)
    labels = torch.tensor([[1, 0, 1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1, 0, 1]], dtype=torch.float32)
    module.loss.bind(module.model, labels.numpy().astype(np.float32))
    images = torch.rand(2, 3, 64, 64, device=device)
    losses = module(images, labels.to(device), torch.ones_like(labels, dtype=torch.bool).to(device),
                    mode="loss")
    assert all(torch.isfinite(v).all() for v in losses.values())
    return seen


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_a_training_step_of_the_gpu_recipe_runs_without_autocast(device):
    module_cfg = _runner_model("megraphau_r50_stage1", "cuda", "cpu_demo")
    seen = _dtypes_in_a_training_step(module_cfg, device)
    assert len(seen) > 50 and all(d == (torch.float32, False) for d in seen)
    # the probe sees autocast where there is one: the same step under bf16
    bf16 = dict(module_cfg, precision=dict(train="bf16", eval="fp32"))
    assert (torch.bfloat16, True) in _dtypes_in_a_training_step(bf16, device)


def test_show_prints_the_precision(capsys):
    assert cli.main(["show", "megraphau_r50", "--img-size", "64"]) == 0
    assert "precision = dict(eval='fp32', train='fp32')" in capsys.readouterr().out
