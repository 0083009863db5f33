"""What the engine tests share besides fixtures (a module of its own: every
test folder has a conftest.py, so ``from conftest import`` would be ambiguous)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable

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
custom_hooks = [dict(type='ResumableEarlyStopping', patience=10, begin=0)]
'''


def cli_env(**extra) -> dict:
    """Environment for an ``auzoo`` subprocess: one thread, no plugins."""
    env = dict(os.environ, OMP_NUM_THREADS="1", AUZOO_NO_PLUGINS="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env
