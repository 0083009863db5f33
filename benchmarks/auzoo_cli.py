"""The ``auzoo`` commands the benchmarks drive, in one place.

Benchmarks run auzoo as a user does, through its command line in a
subprocess (``python -m auzoo.cli``: the checkout runs without an install),
and read what the run wrote. Every command line and config key they rely on
is here, so a change of the command line is one edit.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

AUZOO = [sys.executable, "-m", "auzoo.cli"]


def synth_cmd(raw: Path, *, frames: int, width: int, height: int, workers: int) -> List[str]:
    return AUZOO + ["synth", "disfa", str(raw), "--subjects", "27", "--frames", str(frames),
                    "--width", str(width), "--height", str(height), "--workers", str(workers)]


def prepare_cmd(raw: Path, cache: Path, *, size: int, workers: int) -> List[str]:
    return AUZOO + ["prepare", "disfa", str(raw), "--out", str(cache), "--size", str(size),
                    "--workers", str(workers)]


def train_options(*, epochs: int, iters: int, batch: int, img_size: int,
                  log_interval: int = 10) -> Dict[str, object]:
    """The schedule of a benchmark run, as mmengine-schema config keys."""
    return {"train_cfg.max_epochs": epochs, "train_dataloader.sampler.iters_per_epoch": iters,
            "train_dataloader.batch_size": batch, "img_size": img_size,
            "custom_hooks.0.patience": 1000, "default_hooks.logger.interval": log_interval}


def train_cmd(config: str, cache: Path, work_dir: Path, *, device: str,
              options: Dict[str, object]) -> List[str]:
    cfg = [f"{k}={v}" for k, v in options.items()]
    return AUZOO + ["train", config, "--data", str(cache), "--fold", "1", "--work-dir",
                    str(work_dir), "--device", device, "--allow-random-init",
                    "--cfg-options", *cfg]


def clocked_config(path: Path, base: str, clock: Path, body: str = "") -> Path:
    """A user config inheriting ``base`` with the two :mod:`run_clock` hooks."""
    path.write_text(
        f"_base_ = ['{base}']\n"
        "custom_imports = dict(imports=['run_clock'], allow_failed_imports=False)\n"
        f"custom_hooks = [\n"
        f"    dict(type='RunClock', out='{clock}', role='first', priority='HIGHEST'),\n"
        f"    dict(type='RunClock', out='{clock}', role='last', priority='LOWEST')]\n"
        + body)
    return path


def env() -> Dict[str, str]:
    """The environment of a command: this checkout and the benchmarks folder
    (where ``run_clock`` lives) first on the path, plugins off."""
    e = dict(os.environ)
    paths = [str(REPO), str(HERE)] + [p for p in e.get("PYTHONPATH", "").split(os.pathsep) if p]
    e["PYTHONPATH"] = os.pathsep.join(paths)
    e.setdefault("AUZOO_NO_PLUGINS", "1")
    e["PYTHONUNBUFFERED"] = "1"
    return e


def run(cmd: Sequence[str], log: Path, timeout: Optional[float] = None) -> dict:
    """Run ``cmd`` with its output appended to ``log``; its exit status and seconds."""
    t0 = time.perf_counter()
    with log.open("a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        try:
            rc = subprocess.run(list(cmd), stdout=f, stderr=subprocess.STDOUT, env=env(),
                                timeout=timeout, cwd=log.parent).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    return dict(rc=rc, seconds=round(time.perf_counter() - t0, 2))


def synthetic_cache(scratch: Path, log: Path, *, frames: int, width: int, height: int,
                    size: int, workers: int) -> dict:
    """A synthetic DISFA (27 subjects) and its prepared cache under ``scratch``
    (reused when already there)."""
    raw, cache = scratch / "raw", scratch / f"cache{size}"
    out = dict(cache=str(cache), frames_per_subject=frames, video=f"{width}x{height}", size=size)
    if (cache / "meta.json").is_file():
        return dict(out, reused=True)
    if not raw.exists():
        out["synth"] = run(synth_cmd(raw, frames=frames, width=width, height=height,
                                     workers=workers), log)
    out["prepare"] = run(prepare_cmd(raw, cache, size=size, workers=workers), log)
    if not (cache / "meta.json").is_file():
        raise RuntimeError(f"no cache at {cache}; see {log}")
    return out


def read_result(work_dir: Path) -> dict:
    """The run's ``result.json`` as one flat dict: its scores, training record and
    provenance side by side (``{}`` when the run wrote none)."""
    path = work_dir / "result.json"
    if not path.is_file():
        return {}
    record = json.loads(path.read_text())
    flat = dict(record)
    for section in ("provenance", "training", "scores"):  # later sections win
        if isinstance(record.get(section), dict):
            flat.update(record[section])
    return flat


def tail(path: Path, lines: int = 60) -> str:
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


__all__ = ["AUZOO", "REPO", "clocked_config", "env", "prepare_cmd", "read_result", "run",
           "synth_cmd", "synthetic_cache", "tail", "train_cmd", "train_options"]
