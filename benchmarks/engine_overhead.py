"""auzoo's training loop against a plain PyTorch loop: same model, same data,
same process, taking turns.

The model is tiny on purpose (timm ``mobilenetv3_small_050`` at 32 px behind
auzoo's ResNet-50 recipe: whole-face head, one branch, SGD, batch 64,
random weights), so what the loop costs outside the model shows:

* **auzoo**: ``auzoo train`` on a prepared synthetic cache, with a user config
  inheriting ``auzoo::resnet50`` (mmengine Runner, AU-weighted sampler,
  loader, preprocessor, loss, hooks, logging), timed from inside by
  :mod:`run_clock` (from one iteration's end to the next; epoch 1 is warm-up).
* **plain**: the :class:`PlainLoop` hook of the same run, before every epoch
  from the second and after the last: its own copy of the model and its own
  SGD, frames of fold 1's training subjects held in memory, each iteration a
  random batch of 64 made floats in [0, 1], forward, BCE, backward, step.
  Nothing else. It computes what auzoo's step computes on that device: fp32
  and the default (NCHW) layout on a CPU, bf16 autocast and channels-last on
  a GPU. (The layout matters by itself: ``uint8 NHWC -> permute`` leaves a
  channels-last-strided tensor, and this depthwise-conv model trains about
  twice as fast channels-last on a CPU; left so, the comparison would
  measure the layout, not the loop.)

The two take turns within one process because this shared machine has slow
spells lasting tens of seconds, in which the same work takes up to 1.5x as
long: each auzoo epoch is compared with the plain blocks just before and
after it, and the median over epochs is the figure. Goal: auzoo's loop
costs at most 3 ms per iteration more than the plain one.

    python benchmarks/engine_overhead.py                         # CPU
    python benchmarks/engine_overhead.py --device cuda --out benchmarks/results/engine_overhead_h200.txt
"""
from __future__ import annotations

import argparse
import copy
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook

sys.path.insert(0, str(Path(__file__).resolve().parent))
import auzoo_cli  # noqa: E402
from machine import Machine, save_report, synchronize  # noqa: E402
from run_clock import iteration_times, read_clock  # noqa: E402

from auzoo.registry import HOOKS  # noqa: E402

TINY = "model = dict(backbone=dict(model_name='mobilenetv3_small_050', frozen_stages=0))\n"
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
    on_gpu = device.type == "cuda"
    layout = torch.channels_last if on_gpu else torch.contiguous_format
    model.to(memory_format=layout)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_gpu)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9, weight_decay=1e-3)
    generator = torch.Generator(device="cpu").manual_seed(0)
    labels = (torch.rand(len(images), len(model.aus), generator=generator) < 0.3).float()
    images, labels = images.to(device), labels.to(device)

    def step():
        idx = torch.randint(len(images), (batch,), generator=generator).to(device)
        x = images[idx].permute(0, 3, 1, 2).float().div_(255.0).contiguous(memory_format=layout)
        with autocast:
            logits = model(x)
        loss = F.binary_cross_entropy_with_logits(logits.float(), labels[idx])
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


@HOOKS.register_module(force=True)
class PlainLoop(Hook):
    """Runs :func:`plain_loop` inside an ``auzoo train`` run, before each epoch
    from the second and after the last, and appends its seconds per
    iteration to ``out`` (``{"before_epoch": e, "seconds": s}``, 1-based
    epochs; ``before_epoch`` one past the last for the block after it).
    Global RNG states are restored, so the auzoo run draws what it would."""

    priority = "HIGHEST"  # before run_clock's 'first' clock: not counted in auzoo's epoch

    def __init__(self, cache: str, out: str, batch: int, iters: int):
        self.cache, self.out = Path(cache), Path(out)
        self.batch, self.iters = batch, iters
        self.model = self.images = None

    def _block(self, runner, before_epoch: int) -> None:
        device = next(runner.model.parameters()).device
        if self.model is None:
            model = getattr(runner.model, "module", runner.model).model
            self.model = copy.deepcopy(model)
            self.images = training_frames(self.cache)
        rng = torch.get_rng_state(), np.random.get_state()
        seconds = plain_loop(self.model, self.images, batch=self.batch, iters=self.iters,
                             warmup=2, device=device)
        torch.set_rng_state(rng[0])
        np.random.set_state(rng[1])
        with self.out.open("a") as f:
            f.write(json.dumps(dict(before_epoch=before_epoch, seconds=seconds)) + "\n")

    def before_train_epoch(self, runner) -> None:
        if runner.epoch >= 1:  # 0-based: epoch 1 is everyone's warm-up
            self._block(runner, runner.epoch + 1)

    def after_train(self, runner) -> None:
        self._block(runner, runner.epoch + 1)


def run_interleaved(cache: Path, scratch: Path, *, batch: int, iters: int, epochs: int,
                    img_size: int, device: torch.device) -> dict:
    clock, plain = scratch / "overhead_clock.jsonl", scratch / "overhead_plain.jsonl"
    clock.unlink(missing_ok=True)
    plain.unlink(missing_ok=True)
    probe = (f"custom_imports = dict(imports=['run_clock', 'engine_overhead'], "
             "allow_failed_imports=False)\n"
             f"custom_hooks = [dict(type='PlainLoop', cache='{cache}', out='{plain}', "
             f"batch={batch}, iters={iters})] + custom_hooks\n")
    config = auzoo_cli.clocked_config(scratch / "tiny_overhead.py", "auzoo::resnet50", clock,
                                      TINY + probe)
    options = auzoo_cli.train_options(epochs=epochs, iters=iters, batch=batch, img_size=img_size)
    work = scratch / "overhead_run"
    shutil.rmtree(work, ignore_errors=True)  # a fresh run, not a resumed one
    cmd = auzoo_cli.train_cmd(str(config), cache, work, device=str(device), options=options)
    ran = auzoo_cli.run(cmd, scratch / "commands.log")
    if ran["rc"] != 0:
        raise RuntimeError(f"auzoo train failed ({ran['rc']}):\n"
                           + auzoo_cli.tail(scratch / "commands.log", 30))
    times = iteration_times(read_clock(clock))
    blocks = {r["before_epoch"]: r["seconds"]
              for r in map(json.loads, plain.read_text().splitlines())}
    rows = []
    for epoch in sorted(e for e in times if e > 1):
        plain_s = (blocks[epoch] + blocks[epoch + 1]) / 2  # the plain blocks either side
        auzoo_s = statistics.mean(times[epoch])
        rows.append(dict(epoch=epoch, auzoo=auzoo_s, plain=plain_s, before=blocks[epoch],
                         after=blocks[epoch + 1]))
    return dict(rows=rows, command=" ".join(cmd[3:]))


def measure(device: torch.device, scratch: Path, *, batch: int = 64, img_size: int = 32,
            iters: int = 30, epochs: int = 6) -> dict:
    """Make the synthetic cache under ``scratch`` and run the interleaved
    comparison: per-epoch rows, the median difference, and the command."""
    scratch.mkdir(parents=True, exist_ok=True)
    data = auzoo_cli.synthetic_cache(scratch, scratch / "commands.log", frames=48, width=160,
                                     height=120, size=img_size, workers=2)
    result = run_interleaved(Path(data["cache"]), scratch, batch=batch, iters=iters,
                             epochs=epochs, img_size=img_size, device=device)
    result.update(device=device, batch=batch, img_size=img_size, iters=iters)
    rows = result["rows"]
    result["extra_ms"] = 1000 * statistics.median(r["auzoo"] - r["plain"] for r in rows)
    result["ratio"] = statistics.median(r["auzoo"] / r["plain"] for r in rows)
    result["goal_met"] = result["extra_ms"] <= GOAL_MS
    return result


def report_lines(result: dict) -> list:
    rows, extra_ms = result["rows"], result["extra_ms"]
    device, batch, img_size, iters = (result[k] for k in ("device", "batch", "img_size", "iters"))
    return [
        f"model: auzoo::resnet50 recipe with timm mobilenetv3_small_050, {img_size} px, "
        f"batch {batch}, random weights, SGD; device {device}, "
        + ("bf16 autocast, channels-last" if device.type == "cuda" else "fp32, NCHW")
        + " in both loops",
        f"auzoo: {result['command']}",
        f"ms per iteration; each auzoo epoch ({iters} iterations) against the mean of the "
        f"plain blocks ({iters} iterations each) just before and after it:",
        "  epoch   auzoo   plain (before, after)   difference",
        *[f"  {r['epoch']:5d} {1000 * r['auzoo']:7.2f} {1000 * r['plain']:7.2f} "
          f"({1000 * r['before']:.2f}, {1000 * r['after']:.2f}) {1000 * (r['auzoo'] - r['plain']):+9.2f}"
          for r in rows],
        f"difference: {extra_ms:+.2f} ms/iteration (median over epochs; auzoo/plain "
        f"{result['ratio']:.2f}x); goal <= {GOAL_MS} ms: {'met' if result['goal_met'] else 'NOT met'}",
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--img-size", type=int, default=32)
    p.add_argument("--iters", type=int, default=30,
                   help="iterations per auzoo epoch and per plain block")
    p.add_argument("--epochs", type=int, default=6, help="auzoo epochs; the first is warm-up")
    p.add_argument("--scratch", help="synthetic data and the run (default: a temp folder)")
    p.add_argument("--out", help="also write the report to this file")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="auzoo-overhead-"))
    machine = Machine.start(device)
    result = measure(device, scratch, batch=args.batch_size, img_size=args.img_size,
                     iters=args.iters, epochs=args.epochs)
    machine.finish()
    text = "\n".join(["auzoo training loop vs a plain PyTorch loop (same model, same data, "
                      "same process)", *machine.lines(),
                      *report_lines(result)])
    print(text)
    save_report(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
