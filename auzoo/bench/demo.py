"""The demo of ``auzoo bench`` without ``--data``: a synthetic DISFA, made once
in the user's cache folder, trained with the ``cpu_demo`` preset."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

# The synthetic DISFA the demo runs on (27 subjects, the real folds); bump the
# version when its recipe changes.
SYNTHETIC = dict(name="synthetic-disfa-v2", subjects=27, frames=48, width=320, height=240,
                 size=96, seed=0)


def preset_piece(preset: Optional[str], synthetic: bool) -> Optional[str]:
    """``--preset`` (default: cpu_demo on the synthetic data, else the paper's)."""
    from auzoo.engine.settings import preset_piece as piece

    if preset is None:
        preset = "cpu_demo" if synthetic else "paper"
    return piece(preset)


def user_cache_dir() -> Path:
    """``$AUZOO_CACHE_DIR``, else ``$XDG_CACHE_HOME/auzoo``, else ``~/.cache/auzoo``."""
    if os.environ.get("AUZOO_CACHE_DIR"):
        return Path(os.environ["AUZOO_CACHE_DIR"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "auzoo"


def synthetic_cache() -> Path:
    return user_cache_dir() / SYNTHETIC["name"]


def synthetic_disfa(console=None) -> Path:
    """The prepared cache of the demo's synthetic DISFA, made on first use.

    It is synthesised and prepared next to its final place and renamed into
    it when complete, so an interrupted first run leaves no half cache behind
    (and the next run picks up the partial work: both steps resume)."""
    from auzoo.data import open_cache
    from auzoo.data.prepare import prepare_disfa
    from auzoo.data.synth import synth_disfa

    cache = synthetic_cache()
    if cache.is_dir():
        return cache
    work = cache.parent / f"{SYNTHETIC['name']}.partial"
    raw, prepared = work / "raw", work / "cache"
    if console is not None:
        console.print(f"making the synthetic DISFA once: {cache}")
    synth_disfa(raw, subjects=SYNTHETIC["subjects"], frames=SYNTHETIC["frames"],
                seed=SYNTHETIC["seed"], width=SYNTHETIC["width"], height=SYNTHETIC["height"])
    prepare_disfa(raw, prepared, size=SYNTHETIC["size"], workers=min(4, os.cpu_count() or 1))
    open_cache(prepared)  # complete and readable
    os.replace(prepared, cache)
    shutil.rmtree(work, ignore_errors=True)
    return cache


def synthetic_banner(cache: Path) -> str:
    return ("[bold yellow]Demo on SYNTHETIC data[/] (drawn faces; cache: "
            f"{cache}).\n"
            "Its numbers show that training works; they say nothing about DISFA.\n"
            "For real numbers, on a GPU:\n"
            "  auzoo prepare disfa /path/to/DISFA --out disfa_cache\n"
            "  auzoo bench tranet --data disfa_cache")
