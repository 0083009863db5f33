"""The recipe's optimiser: layer-wise learning-rate decay and weight decay per
parameter, built by mmengine from the config through the registered constructor,
and the warm-up + cosine schedule keeping each layer's share."""
from __future__ import annotations

import math

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.optim import CosineAnnealingLR, LinearLR
from mmengine.registry import init_default_scope
from torch import nn

import auzoo
from auzoo.config import load_config
from auzoo_fmae import FMAE
from auzoo_fmae.optim import layer_id
from fmae_support import tiny_backbone

DECAY = 0.65


class _Wrapped(nn.Module):
    """Names as the Runner sees them: ``model.backbone.vit...`` inside AUDetectorModule."""

    def __init__(self, model):
        super().__init__()
        self.model = model


@pytest.fixture(scope="module")
def built():
    init_default_scope("auzoo")
    cfg = load_config("fmae_iat_vitb")
    torch.manual_seed(0)
    model = _Wrapped(FMAE(tiny_backbone(), grad_reverse=0.5, train_subjects=("a", "b", "c")))
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper.to_dict())
    return cfg, model, wrapper


def _group_of(wrapper, param):
    return next(g for g in wrapper.optimizer.param_groups if any(p is param for p in g["params"]))


def test_each_parameter_gets_its_layers_rate_and_decay(built):
    cfg, model, wrapper = built
    base_lr = cfg.optim_wrapper.optimizer.lr
    assert base_lr == pytest.approx(5e-4 * 64 / 256) and cfg.optim_wrapper.optimizer.type == "AdamW"
    depth = 3  # the tiny ViT; layer ids 0 (embeddings) .. 4 (after the blocks)
    expect = {
        "model.backbone.vit.cls_token": (DECAY ** 4, 0.0),
        "model.backbone.vit.pos_embed": (DECAY ** 4, 0.0),
        "model.backbone.vit.patch_embed.proj.weight": (DECAY ** 4, 0.05),
        "model.backbone.vit.patch_embed.proj.bias": (DECAY ** 4, 0.0),
        "model.backbone.vit.blocks.0.attn.qkv.weight": (DECAY ** 3, 0.05),
        "model.backbone.vit.blocks.0.norm1.weight": (DECAY ** 3, 0.0),
        "model.backbone.vit.blocks.2.mlp.fc2.weight": (DECAY ** 1, 0.05),
        "model.backbone.vit.blocks.2.mlp.fc2.bias": (DECAY ** 1, 0.0),
        "model.backbone.vit.fc_norm.weight": (1.0, 0.0),
        "model.head.weight": (1.0, 0.05),
        "model.head.bias": (1.0, 0.0),
        "model.identity_head.weight": (1.0, 0.05),
        "model.identity_head.bias": (1.0, 0.0),
    }
    params = dict(model.named_parameters())
    for name, (scale, wd) in expect.items():
        group = _group_of(wrapper, params[name])
        assert group["lr"] == pytest.approx(base_lr * scale), name
        assert group["weight_decay"] == wd, name
        assert group["lr_scale"] == pytest.approx(scale)
    seen = [p for g in wrapper.optimizer.param_groups for p in g["params"]]
    assert len(seen) == len(params) == len({id(p) for p in seen})  # each parameter once
    assert len(wrapper.optimizer.param_groups) == 2 * (depth + 2)  # (layer, decay or not)
    assert wrapper.optimizer.defaults["betas"] == (0.9, 0.999)


def test_vit_l_scales_as_the_official_layer_ids():
    """ViT-L (24 blocks): embeddings x 0.65^25 = 2.1e-5, block 0 x 3.2e-5, block 23 x 0.65."""
    def scale(name):
        return DECAY ** (24 + 1 - layer_id(name, 24))
    assert scale("model.backbone.vit.patch_embed.proj.weight") == pytest.approx(2.1e-5, rel=0.02)
    assert scale("module.model.backbone.vit.cls_token") == pytest.approx(2.1e-5, rel=0.02)
    assert scale("model.backbone.vit.blocks.0.attn.qkv.weight") == pytest.approx(3.2e-5, rel=0.02)
    assert scale("model.backbone.vit.blocks.23.mlp.fc1.bias") == pytest.approx(0.65)
    assert scale("model.backbone.vit.fc_norm.bias") == scale("model.identity_head.weight") == 1.0


def test_warm_up_and_cosine_keep_each_layers_share(built):
    """Per iteration: linear warm-up from ~0 over 2 epochs, a half cosine to
    min_lr 1e-6 x the layer's scale at epoch 20 (the official lr_sched)."""
    cfg, model, wrapper = built
    iters = 10  # per epoch
    schedulers = []
    for s in cfg.param_scheduler:
        s = dict(s)
        s.pop("convert_to_iter_based")
        s.pop("by_epoch")
        s.update(begin=s["begin"] * iters, end=s["end"] * iters)
        if "T_max" in s:
            s["T_max"] *= iters
        kind = {"LinearLR": LinearLR, "CosineAnnealingLR": CosineAnnealingLR}[s.pop("type")]
        schedulers.append(kind(wrapper.optimizer, by_epoch=False, **s))
    groups = wrapper.optimizer.param_groups
    base = [g["initial_lr"] for g in groups]
    top = max(range(len(groups)), key=lambda i: groups[i]["lr_scale"])
    peak = cfg.optim_wrapper.optimizer.lr
    seen = []
    for step in range(20 * iters):
        seen.append([g["lr"] for g in groups])
        wrapper.optimizer.step()
        for s in schedulers:
            s.step()
    seen.append([g["lr"] for g in groups])
    assert seen[0][top] < peak * 2e-3                            # starts near 0
    # the official warm-up is peak * t / T; mmengine's linear ramp reaches the
    # peak one iteration earlier (at T - 1): a gap of at most peak / T
    warm = 2 * iters
    for t in range(warm):
        assert abs(seen[t][top] - peak * t / warm) <= peak / warm * (1 + 1e-9)
    # then the official half cosine to min_lr, every iteration
    total, low = 20 * iters, 1e-6
    for t in range(warm, total):
        official = low + (peak - low) * 0.5 * (1 + math.cos(math.pi * (t - warm) / (total - warm)))
        assert seen[t][top] == pytest.approx(official, rel=1e-6), t
    assert seen[warm][top] == pytest.approx(peak) and seen[total - 1][top] < 1.01 * low
    for lrs in seen[1:]:
        for i, lr in enumerate(lrs):
            assert lr / base[i] == pytest.approx(lrs[top] / base[top], rel=1e-6)


def test_the_runner_config_builds_the_constructor():
    from auzoo.registry import OPTIM_WRAPPER_CONSTRUCTORS

    cfg = load_config("fmae_vitl")
    assert cfg.optim_wrapper.constructor == "LayerDecayOptimWrapperConstructor"
    assert OPTIM_WRAPPER_CONSTRUCTORS.get(cfg.optim_wrapper.constructor) is not None
    with pytest.raises(ValueError, match="unknown paramwise_cfg keys layer_decay"):
        build_optim_wrapper(nn.Linear(2, 2), dict(
            optimizer=dict(type="AdamW", lr=1e-3), constructor="LayerDecayOptimWrapperConstructor",
            paramwise_cfg=dict(layer_decay=0.65)))
    assert auzoo.build_model("fmae_iat_vitl", **{"backbone.depth": 1, "backbone.img_size": 32})
