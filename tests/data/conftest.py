"""Shared fixtures: one small synthetic DISFA (all 27 subjects, so every quirk
is present) and its prepared cache, written once per test session."""
from __future__ import annotations

import pytest

from auzoo.cli import main

FRAMES, WIDTH, HEIGHT, SEED, SIZE = 48, 192, 144, 3, 112


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("disfa")
    assert main(["synth", "disfa", str(root), "--frames", str(FRAMES), "--width", str(WIDTH),
                 "--height", str(HEIGHT), "--seed", str(SEED)]) == 0
    return root


@pytest.fixture(scope="session")
def cache_dir(synth_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache") / "disfa"
    assert main(["prepare", "disfa", str(synth_root), "--out", str(out), "--workers", "2",
                 "--size", str(SIZE)]) == 0
    return out


@pytest.fixture(scope="session")
def cache(cache_dir):
    from auzoo.data import open_cache

    return open_cache(cache_dir)
