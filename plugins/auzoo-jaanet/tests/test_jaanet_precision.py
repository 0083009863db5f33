"""JAA-Net trains and scores in fp32, on a GPU too: under bf16 autocast its
initial attention maps are rounded (0.9231 becomes 0.9219) and the refinement
loss's target is read back from them (README, 'Official recipe and auzoo')."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

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
@pytest.mark.parametrize("name", ["jaanet", "jaanet_scratch"])
def test_jaanet_configs_train_in_fp32_on_a_gpu(name, preset):
    assert dict(_runner_model(name, "cuda", preset)["precision"]) == FP32


def _a_training_step(module_cfg: dict, device: str):
    """(output dtype, autocast on) of every conv and linear layer in one training
    step, and the dtype of the initial attention maps the refinement nets read."""
    from auzoo.registry import MODELS

    torch.manual_seed(0)
    module = MODELS.build(module_cfg).to(device)
    seen, maps = [], []

    def probe(layer, inputs, output):
        seen.append((output.dtype, torch.is_autocast_enabled(device)))

    for layer in module.model.modules():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            layer.register_forward_hook(probe)
    module.model.attention_refine.register_forward_pre_hook(
        lambda layer, inputs: maps.append(inputs[0].dtype))
    labels = torch.tensor([[1, 0, 1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1, 0, 1]], dtype=torch.float32)
    module.loss.bind(module.model, labels.numpy().astype(np.float32))
    g = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, 64, 64, generator=g).to(device)
    landmarks = (torch.rand(2, 66, 2, generator=g) * 40 + 12).to(device)
    losses = module(images, labels.to(device), torch.ones_like(labels, dtype=torch.bool).to(device),
                    landmarks=landmarks, mode="loss")
    assert {"loss_softmax", "loss_dice", "loss_align", "loss_refine"} <= set(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())
    return seen, maps


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_a_training_step_of_the_gpu_recipe_runs_without_autocast(device):
    module_cfg = _runner_model("jaanet", "cuda", "cpu_demo")
    seen, maps = _a_training_step(module_cfg, device)
    assert len(seen) > 20 and all(d == (torch.float32, False) for d in seen)
    assert maps == [torch.float32]
    # the probes see autocast where there is one: the same step under bf16
    seen, maps = _a_training_step(dict(module_cfg, precision=dict(train="bf16", eval="fp32")),
                                  device)
    assert (torch.bfloat16, True) in seen and maps == [torch.bfloat16]
