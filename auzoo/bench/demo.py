"""The demo of ``auzoo bench`` without ``--data``: a synthetic DISFA, made once
in the user's cache folder, trained with the ``cpu_demo`` preset (and a
synthetic BP4D, for a recipe that starts from a BP4D run)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

# The synthetic DISFA the demo runs on (27 subjects, the real folds); bump the
# version when its recipe changes.
SYNTHETIC = dict(name="synthetic-disfa-v2", subjects=27, frames=48, width=320, height=240,
                 size=96, seed=0)
# The synthetic BP4D a recipe that starts from a BP4D run trains that run on in
# the demo (init_from.source_data='synthetic:bp4d'): all 41 subjects, so that
# every fold has its subjects; two tasks of 24 frames each, portrait as BP4D.
SYNTHETIC_BP4D = dict(name="synthetic-bp4d-v1", subjects=41, tasks=2, frames=24, width=240,
                      height=320, size=96, seed=0)


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


def _made_once(name: str, make, console=None) -> Path:
    """The prepared cache ``name`` in the user's cache folder, made on first use.

    It is synthesised and prepared next to its final place and renamed into
    it when complete, so an interrupted first run leaves no half cache behind
    (and the next run picks up the partial work: both steps resume)."""
    from auzoo.data import open_cache

    cache = user_cache_dir() / name
    if cache.is_dir():
        return cache
    work = cache.parent / f"{name}.partial"
    raw, prepared = work / "raw", work / "cache"
    if console is not None:
        console.print(f"making the synthetic data once: {cache}")
    make(raw, prepared)
    open_cache(prepared)  # complete and readable
    os.replace(prepared, cache)
    shutil.rmtree(work, ignore_errors=True)
    return cache


def synthetic_disfa(console=None) -> Path:
    """The prepared cache of the demo's synthetic DISFA, made on first use."""
    from auzoo.data.datasets.disfa.prepare import prepare_disfa
    from auzoo.data.datasets.disfa.synth import synth_disfa

    def make(raw, prepared):
        synth_disfa(raw, subjects=SYNTHETIC["subjects"], frames=SYNTHETIC["frames"],
                    seed=SYNTHETIC["seed"], width=SYNTHETIC["width"], height=SYNTHETIC["height"])
        prepare_disfa(raw, prepared, size=SYNTHETIC["size"], workers=min(4, os.cpu_count() or 1))

    return _made_once(SYNTHETIC["name"], make, console)


def synthetic_bp4d(console=None) -> Path:
    """The prepared cache of the demo's synthetic BP4D, made on first use."""
    from auzoo.data.datasets.bp4d.prepare import prepare_bp4d
    from auzoo.data.datasets.bp4d.synth import synth_bp4d
    from auzoo.data.datasets.bp4d.synth import LANDMARK_FOLDER

    spec = SYNTHETIC_BP4D

    def make(raw, prepared):
        synth_bp4d(raw, subjects=spec["subjects"], frames=spec["frames"], tasks=spec["tasks"],
                   seed=spec["seed"], width=spec["width"], height=spec["height"])
        prepare_bp4d(raw, prepared, size=spec["size"], landmarks=raw / LANDMARK_FOLDER,
                     workers=min(4, os.cpu_count() or 1))

    return _made_once(spec["name"], make, console)


def synthetic_data(name: str, console=None) -> Path:
    """``'synthetic:disfa'`` or ``'synthetic:bp4d'``: the demo's prepared cache."""
    makers = {"synthetic:disfa": synthetic_disfa, "synthetic:bp4d": synthetic_bp4d}
    if name not in makers:
        raise ValueError(f"{name!r}: the synthetic data sets are {', '.join(makers)}")
    return makers[name](console)


def synthetic_banner(cache: Path) -> str:
    return ("[bold yellow]Demo on SYNTHETIC data[/] (drawn faces; cache: "
            f"{cache}).\n"
            "Its numbers show that training works; they say nothing about DISFA.\n"
            "For real numbers, on a GPU:\n"
            "  auzoo prepare disfa /path/to/DISFA --out disfa_cache\n"
            "  auzoo bench tranet --data disfa_cache")
