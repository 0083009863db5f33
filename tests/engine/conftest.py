"""Shared fixtures of the engine tests: a tiny synthetic DISFA cache (all 27
subject ids, 48 frames each, 48-pixel faces) and a tiny three-branch model
config on timm's ``test_resnet``, written as a config file so that
subprocesses (``auzoo train``, ``torchrun``) can build it too."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

TINY_CONFIG = '''
# A tiny three-region model for fast engine tests.
_base_ = ['auzoo::_base_/default_runtime.py', 'auzoo::_base_/data/au_frames.py',
          'auzoo::_base_/schedules/paper.py']
model = dict(
    type='RegionAUNet',
    aus=(1, 2, 4, 6, 9, 12, 25, 26),
    backbone=dict(type='TimmBackbone', model_name='test_resnet', frozen_stages=1),
    splitter=dict(type='ThreeRegionSplitter'),
    head=dict(type='TwoFCHead', pool_size=1, hidden=16, dropout=0.0),
    branches=[dict(region='upper'), dict(region='middle'), dict(region='lower')],
)
allow_random_init = True  # test_resnet has no weight file
img_size = 48
optim_wrapper = dict(optimizer=dict(lr=0.05))
train_dataloader = dict(batch_size=8, sampler=dict(iters_per_epoch=3))
val_dataloader = dict(batch_size=256)
train_cfg = dict(max_epochs=3)
early_stopping = dict(patience=10, begin=0)
'''


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    from auzoo.data.prepare import prepare_disfa
    from auzoo.data.synth import synth_disfa

    base = tmp_path_factory.mktemp("disfa")
    synth_disfa(base / "raw", subjects=27, frames=48, width=160, height=120, seed=1, workers=2)
    prepare_disfa(base / "raw", base / "cache", size=48, workers=2)
    return base / "cache"


@pytest.fixture(scope="session")
def tiny_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("configs") / "tiny.py"
    path.write_text(TINY_CONFIG)
    return path


def cli_env(**extra) -> dict:
    """Environment for an ``auzoo`` subprocess: one thread, no plugins."""
    env = dict(os.environ, OMP_NUM_THREADS="1", AUZOO_NO_PLUGINS="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


PYTHON = sys.executable
