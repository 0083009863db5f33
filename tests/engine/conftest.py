"""Shared fixtures of the engine tests: a tiny synthetic DISFA cache (all 27
subject ids, 48 frames each, 48-pixel faces) and a tiny three-branch model
config on timm's ``test_resnet``, written as a config file so that
subprocesses (``auzoo train``, ``torchrun``) can build it too."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from engine_support import TINY_CONFIG  # noqa: E402


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    from auzoo.data.datasets.disfa.prepare import prepare_disfa
    from auzoo.data.datasets.disfa.synth import synth_disfa

    base = tmp_path_factory.mktemp("disfa")
    synth_disfa(base / "raw", subjects=27, frames=48, width=160, height=120, seed=1, workers=2)
    prepare_disfa(base / "raw", base / "cache", size=48, workers=2)
    return base / "cache"


@pytest.fixture(scope="session")
def tiny_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("configs") / "tiny.py"
    path.write_text(TINY_CONFIG)
    return path
