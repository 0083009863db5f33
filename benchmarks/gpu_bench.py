"""auzoo on one GPU, in one call of under 8 minutes: does it run, and how fast.

Parts, in this order, each written to ``--out`` as soon as it finishes
(``gpu_bench.json`` rewritten, ``gpu_bench.md`` beside it), so a failure or
the time limit loses only what had not run yet:

1. ``setup``: missing pure-Python packages installed offline from wheels
   brought along (``--wheels``, ``--no-deps``, only what the machine lacks);
   the machine, its load, and reference matrix-product GFLOP/s (fp32, bf16).
2. ``train``: ``auzoo train tranet`` end to end on a synthetic DISFA (the
   only part that runs auzoo's own GPU path: loader, sampler, precision,
   validation, checkpoints), at the protocol's batch of 64. Reported:
   steady-state training images/s (epoch 1 excluded as warm-up; each epoch
   timed from its start to its last iteration with the device synchronised
   at both ends), and per epoch the seconds spent training, scoring and in
   the hooks after scoring (checkpoint saving).
3. ``overhead``: auzoo's training loop against a plain PyTorch loop on a
   tiny model, taking turns in one process (``engine_overhead.py``): the ms
   per iteration auzoo adds outside the model (goal <= 3 ms; at 3,000
   images/s a batch of 64 has 21 ms).
4. ``eager``: TRA-Net alone, random batches on the device: inference at
   512, training steps (forward, per-branch BCE, backward, SGD) at 64 (the
   protocol's batch) and 256; warm-up steps excluded, synchronised timing,
   median of repeats; achieved GFLOP/s as a fraction of the bf16 reference.
5. ``compiled``: the same with ``torch.compile`` (inference 512, training
   64), last because compiling takes minutes.

Scratch data (the synthetic DISFA, its cache, the run's checkpoints) goes to
``--scratch`` (default a temporary folder), never to ``--out``: only the
report, the JSON and the end of the training log come back.

    python benchmarks/gpu_bench.py --wheels .whl --out "$OUT"      # on the GPU machine
    python benchmarks/gpu_bench.py --smoke --out /tmp/gpu_smoke      # on a CPU, every part tiny
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STARTED = time.perf_counter()

# Pure-Python packages auzoo needs that the GPU machine's image lacks (module -> wheel
# name), pinned to auzoo's versions; av (PyAV) is the one binary wheel, used to decode video.
WHEELS = {"mmengine": "mmengine-0.10.7", "addict": "addict-2.4.0", "yapf": "yapf-0.43.0",
          "termcolor": "termcolor-3.3.0", "platformdirs": "platformdirs-4.14.9",
          "importlib_metadata": "importlib_metadata-10.2.0",
          "lazy_importer": "lazy_importer-0.1.0", "av": "av-18.1.0"}
OPTIONAL = {"av"}  # only prediction decodes video with it; the benchmark runs without
SITE = Path(tempfile.gettempdir()) / "auzoo-site"


def elapsed() -> float:
    return time.perf_counter() - STARTED


def log(msg: str) -> None:
    print(f"[{elapsed():6.1f}s] {msg}", flush=True)


def missing_modules(modules) -> list:
    import importlib.util

    return [m for m in modules if importlib.util.find_spec(m) is None]


def install_wheels(wheels: Path) -> dict:
    """Install, without dependencies or an index, the wheels of what is missing."""
    missing = missing_modules(WHEELS)
    if not missing:
        return dict(installed=[])
    files = [f for m in missing for f in sorted(Path(wheels).glob(f"{WHEELS[m]}-*.whl"))]
    absent = [m for m in missing if not any(f.name.startswith(WHEELS[m] + "-") for f in files)]
    if set(absent) - OPTIONAL:
        raise SystemExit(f"missing {', '.join(sorted(set(absent) - OPTIONAL))} and no wheel for it "
                         f"in {wheels} (see benchmarks/README.md for the download command)")
    if not files:
        return dict(installed=[], not_installed=absent)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                    "--no-compile", "--target", str(SITE), *map(str, files)], check=True)
    sys.path.insert(0, str(SITE))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(SITE), os.environ.get("PYTHONPATH", "")])
    return dict(installed=[f.name for f in files], target=str(SITE), not_installed=absent)


class Report:
    """The results so far, rewritten to ``out`` after every part."""

    def __init__(self, out: Path, smoke: bool):
        self.out = out
        self.data = dict(smoke=smoke, parts={}, skipped=[], failed={})

    def part(self, name: str, value) -> None:
        self.data["parts"][name] = value
        self.save()

    def save(self) -> None:
        from render import render_report

        self.data["elapsed_s"] = round(elapsed(), 1)
        (self.out / "gpu_bench.json").write_text(json.dumps(self.data, indent=1, default=str))
        (self.out / "gpu_bench.md").write_text(render_report(self.data))


def run_part(report: Report, name: str, fn, budget_s: float, needs_s: float) -> None:
    """Run one part unless less than ``needs_s`` is left; a failure is recorded, not fatal."""
    if elapsed() + needs_s > budget_s:
        report.data["skipped"].append(f"{name} (needs ~{needs_s:.0f} s, "
                                      f"{budget_s - elapsed():.0f} s left)")
        report.save()
        log(f"skipped {name}: not enough time left")
        return
    log(f"{name} …")
    try:
        report.part(name, fn())
    except Exception as exc:  # one broken part must not lose the others' numbers
        report.data["failed"][name] = "".join(traceback.format_exception_only(exc)).strip()[-2000:]
        report.save()
        log(f"{name} failed: {report.data['failed'][name]}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.environ.get("OUT") or "gpu_bench_out")
    p.add_argument("--scratch", help="synthetic data, cache and checkpoints (default: a temp folder)")
    p.add_argument("--smoke", action="store_true", help="every part tiny, on the CPU")
    p.add_argument("--device", help="default: cuda (cpu with --smoke)")
    p.add_argument("--wheels", help="folder of wheels for what the machine lacks")
    p.add_argument("--model", default="tranet")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    p.add_argument("--budget-s", type=float, default=400,
                   help="parts that would end past this many seconds are skipped")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sys.path[:0] = [str(REPO), str(HERE)]
    installed = install_wheels(Path(args.wheels)) if args.wheels else dict(installed=[])
    if missing_modules(["mmengine"]):
        raise SystemExit("mmengine is missing: pass --wheels DIR (see benchmarks/README.md)")
    os.environ.setdefault("AUZOO_NO_PLUGINS", "1")
    import torch

    from gpu_parts import (SETTINGS, compiled_rows, eager_rows, overhead_part, setup_part,
                           train_part)

    device = torch.device(args.device or ("cpu" if args.smoke else "cuda"))
    settings = SETTINGS["smoke" if args.smoke else "gpu"]
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="auzoo-gpu-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    report = Report(out, args.smoke)
    report.part("setup", dict(setup_part(device), wheels=installed, scratch=str(scratch)))
    budget = args.budget_s if not args.smoke else 280
    run_part(report, "train", lambda: train_part(args.model, device, settings, scratch, out),
             budget, settings["train_needs_s"])
    run_part(report, "overhead", lambda: overhead_part(device, settings, scratch),
             budget, settings["overhead_needs_s"])
    run_part(report, "eager", lambda: eager_rows(args.model, device, settings, report),
             budget, settings["eager_needs_s"])
    if args.no_compile or args.smoke:
        report.data["skipped"].append("compiled rows (" + ("--no-compile" if args.no_compile else
                                                           "not in --smoke: compiling takes minutes on a CPU") + ")")
    else:
        run_part(report, "compiled", lambda: compiled_rows(args.model, device, settings, report),
                 budget, settings["compile_needs_s"])
    report.save()
    print((out / "gpu_bench.md").read_text())
    return 0 if not report.data["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
