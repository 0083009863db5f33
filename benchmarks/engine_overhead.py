"""auzoo's training loop against a plain PyTorch loop: same model, same data.

The model is tiny on purpose (timm ``mobilenetv3_small_050`` at 32 px behind
auzoo's ResNet-50 recipe: whole-face head, one branch, SGD, batch 64,
random weights), so what the loop costs outside the model shows:

* **plain**: frames of fold 1's training subjects from the same prepared
  cache, held in memory; each iteration draws a random batch of 64, makes
  floats in [0, 1], runs forward, BCE, backward and an SGD step. Nothing else.
* **auzoo**: ``auzoo train`` on that cache with a user config inheriting
  ``auzoo::resnet50`` (mmengine Runner, AU-weighted sampler, loader,
  preprocessor, hooks, logging), timed from inside by :mod:`run_clock`
  (from one iteration's end to the next, epoch 1 excluded as warm-up).

The plain loop runs before and after the auzoo run and the two are averaged,
so load that comes and goes hits both alike. Goal: auzoo's loop costs at
most 3 ms per iteration more than the plain one.

    python benchmarks/engine_overhead.py                         # CPU
    python benchmarks/engine_overhead.py --device cuda --out benchmarks/results/engine_overhead_h200.txt
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import auzoo_cli  # noqa: E402
from machine import Machine, synchronize  # noqa: E402
from run_clock import iteration_times, read_clock  # noqa: E402

TINY = ("model = dict(backbone=dict(model_name='mobilenetv3_small_050', frozen_stages=0))\n")
GOAL_MS = 3.0


def training_frames(cache_dir: Path, max_frames: int = 4096) -> torch.Tensor:
    """uint8 frames (N, S, S, 3) of fold 1's training subjects."""
    from auzoo.data import open_cache

    cache = open_cache(cache_dir)
    train_subjects = cache.fold_subjects(1)[0]
    frames = [torch.from_numpy(np.array(cache.frames(s))) for s in train_subjects]  # a copy: the cache is read-only
    return torch.cat(frames)[:max_frames]


def plain_loop(model, images, *, batch: int, iters: int, warmup: int,
               device: torch.device) -> float:
    """Seconds per iteration of the plainest training loop over ``images``
    (labels: a fixed random 0/1 table; their values do not change the cost)."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9, weight_decay=1e-3)
    generator = torch.Generator(device="cpu").manual_seed(0)
    labels = (torch.rand(len(images), len(model.aus), generator=generator) < 0.3).float()
    images, labels = images.to(device), labels.to(device)

    def step():
        idx = torch.randint(len(images), (batch,), generator=generator).to(device)
        x = images[idx].permute(0, 3, 1, 2).float().div_(255.0)
        loss = F.binary_cross_entropy_with_logits(model(x), labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    synchronize(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    synchronize(device)
    return (time.perf_counter() - t0) / iters


def auzoo_loop(cache: Path, scratch: Path, *, batch: int, iters: int, epochs: int, img_size: int,
               device: torch.device) -> dict:
    clock = scratch / "overhead_clock.jsonl"
    clock.unlink(missing_ok=True)
    config = auzoo_cli.clocked_config(scratch / "tiny_overhead.py", "auzoo::resnet50", clock, TINY)
    options = auzoo_cli.train_options(epochs=epochs, iters=iters, batch=batch, img_size=img_size)
    work = scratch / "overhead_run"
    shutil.rmtree(work, ignore_errors=True)  # a fresh run, not a resumed one
    cmd = auzoo_cli.train_cmd(str(config), cache, work, device=str(device), options=options)
    ran = auzoo_cli.run(cmd, scratch / "commands.log")
    if ran["rc"] != 0:
        raise RuntimeError(f"auzoo train failed ({ran['rc']}):\n"
                           + auzoo_cli.tail(scratch / "commands.log", 30))
    times = iteration_times(read_clock(clock))
    steady = [t for e, ts in times.items() if e > 1 for t in ts]
    return dict(seconds=statistics.mean(steady), median=statistics.median(steady),
                iterations=len(steady), command=" ".join(cmd[3:]))


def tiny_model(img_size: int, device: torch.device):
    import auzoo
    from auzoo.config import load_config

    cfg_path = Path(tempfile.mkdtemp()) / "tiny.py"
    cfg_path.write_text("_base_ = ['auzoo::resnet50']\n" + TINY)
    torch.manual_seed(0)
    return auzoo.build_model(load_config(str(cfg_path))).to(device)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--img-size", type=int, default=32)
    p.add_argument("--iters", type=int, default=30, help="iterations per epoch (auzoo) and timed (plain)")
    p.add_argument("--epochs", type=int, default=3, help="auzoo epochs; the first is warm-up")
    p.add_argument("--scratch", help="synthetic data and the run (default: a temp folder)")
    p.add_argument("--out", help="also write the report to this file")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="auzoo-overhead-"))
    scratch.mkdir(parents=True, exist_ok=True)
    machine = Machine.start(device)
    data = auzoo_cli.synthetic_cache(scratch, scratch / "commands.log", frames=48, width=160,
                                     height=120, size=args.img_size, workers=2)
    images = training_frames(Path(data["cache"]))
    model = tiny_model(args.img_size, device)
    loop = dict(batch=args.batch_size, iters=args.iters, device=device)
    before = plain_loop(model, images, warmup=5, **loop)
    ours = auzoo_loop(Path(data["cache"]), scratch, epochs=args.epochs, img_size=args.img_size,
                      **loop)
    after = plain_loop(model, images, warmup=2, **loop)
    machine.finish()
    plain = (before + after) / 2
    extra_ms = 1000 * (ours["seconds"] - plain)
    lines = [
        "auzoo training loop vs a plain PyTorch loop (same model, same data)",
        *machine.lines(),
        f"model: auzoo::resnet50 recipe with timm mobilenetv3_small_050, {args.img_size} px, "
        f"batch {args.batch_size}, random weights, SGD; device {device}",
        f"auzoo: {ours['command']}",
        f"plain loop:   {1000 * plain:8.2f} ms/iteration (before {1000 * before:.2f}, "
        f"after {1000 * after:.2f}; {args.iters} iterations each)",
        f"auzoo loop:   {1000 * ours['seconds']:8.2f} ms/iteration (mean of {ours['iterations']} "
        f"iterations after epoch 1; median {1000 * ours['median']:.2f})",
        f"difference:   {extra_ms:8.2f} ms/iteration ({ours['seconds'] / plain:.2f}x); "
        f"goal <= {GOAL_MS} ms: {'met' if extra_ms <= GOAL_MS else 'NOT met'}",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
