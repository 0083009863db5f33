"""Fixtures of the bench tests: model config files (only their names matter to
the fake training), cache folders, and a quiet console."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture
def models(tmp_path):
    """Config files; the bench names a model by its file's stem."""
    folder = tmp_path / "configs"
    folder.mkdir()
    paths = {}
    for name in ("tranet", "alpha", "beta"):
        paths[name] = folder / f"{name}.py"
        paths[name].write_text("model = dict(type='Nothing')\n")
    return paths


@pytest.fixture
def caches(tmp_path):
    out = {}
    for name in ("disfa_cache", "bp4d_cache"):
        out[name] = tmp_path / name
        out[name].mkdir()
    return out


@pytest.fixture
def console():
    from rich.console import Console
    return Console(file=open("/dev/null", "w"), width=120)
