"""Checkpoints of real model configs with random weights, at small input sizes."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import auzoo
from auzoo.config import load_config
from auzoo.engine.checkpoint import save_checkpoint

pytest.importorskip("onnxruntime", reason="the export extra: pip install -e .[export]")
pytest.importorskip("onnxscript", reason="the export extra: pip install -e .[export]")

from models.helpers import randomize_  # noqa: E402  (tests/models)

TINY_BACKBONE = dict(type="TimmBackbone", model_name="test_resnet", out_indices=(1, 2, 3, 4))


def model_config(name: str, img_size: int, tiny_backbone: bool = False, **model):
    """A registered config at ``img_size``; optionally timm's tiny ``test_resnet``
    in place of its backbone, and other model keys (dotted) overridden."""
    cfg = load_config(name)
    cfg.img_size = img_size
    if tiny_backbone:
        cfg.model.backbone = dict(TINY_BACKBONE)
    for key, value in model.items():
        section = cfg.model
        *parents, leaf = key.split(".")
        for p in parents:
            section = section[p]
        section[leaf] = value
    return cfg


def write_checkpoint(path: Path, cfg, name: str, seed: int = 0) -> Path:
    """What ``auzoo train`` leaves, for a model with random weights and random
    BatchNorm statistics (so no normalisation is the identity)."""
    torch.manual_seed(seed)
    net = randomize_(auzoo.build_model(cfg), seed=seed)
    return save_checkpoint(path, net.state_dict(), dict(
        config=cfg.pretty_text, model=name, aus=list(net.aus), img_size=cfg.img_size, fold=1,
        data_checksum="synthetic"))
