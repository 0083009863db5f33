"""Inference and training throughput of auzoo's models (timm's benchmark style).

For each model: images/s and ms per step, inference and/or training (a real
step: forward, the per-branch summed BCE, backward, SGD), at a given image size
and batch size, with the dtype, memory format and torch.compile settings of
the run, plus parameter count and GMACs. Warm-up steps, then several timed
repeats; the median is reported. One CSV row per (model, mode).

On CUDA the defaults are bf16 autocast, channels_last and cudnn.benchmark,
and the batch size starts at 256 and halves until it fits the device. On the
CPU: float32, batch 16.

It also times a model's inference against its backbone alone, alternating
the two in each repeat so that load from other processes hits both alike
(``--vs-backbone tranet``, the default): TRA-Net's decoder and branches
should cost at most as much again as SENet-50 (goal: ratio <= 2.0).

    python benchmarks/throughput.py                               # every model, CPU or GPU
    python benchmarks/throughput.py tranet senet50 --mode infer --repeats 5
    python benchmarks/throughput.py tranet --cfg-options model.band_only=False
    python benchmarks/throughput.py --device cuda --compile --out results/throughput_h100.csv
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import Machine, cpu_name, load_average, model_gflops, usable_cores  # noqa: E402

FIELDS = ["model", "img_size", "batch_size", "samples_per_sec", "step_time_ms", "param_count_m",
          "gmacs", "device", "dtype", "channels_last", "compile", "mode", "achieved_gflops",
          "reference_gflops", "of_reference", "load_1min"]
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}"
    return f"cpu {cpu_name()}, {usable_cores()} cores, {torch.get_num_threads()} threads"


def synthetic_landmarks(batch_size: int, img_size: int, device: torch.device) -> torch.Tensor:
    """(N, 66, 2) points inside the image for models that need landmarks: where
    they lie does not change the cost of a step."""
    g = torch.Generator().manual_seed(0)
    points = 0.2 + 0.6 * torch.rand(batch_size, 66, 2, generator=g)
    return (points * (img_size - 1)).to(device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build(name: str, cfg_options: Dict, device: torch.device, channels_last: bool):
    import auzoo
    from auzoo.config import apply_overrides, load_config

    cfg = apply_overrides(load_config(name), cfg_options)
    model = auzoo.build_model(cfg).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def make_step(model, mode: str, batch_size: int, img_size: int, device: torch.device,
              dtype: torch.dtype, channels_last: bool, compile_: bool) -> Callable[[], None]:
    """One inference or training step on a fixed random batch."""
    images = torch.rand(batch_size, 3, img_size, img_size, device=device)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    autocast = (torch.autocast(device.type, dtype=dtype) if dtype != torch.float32
                else contextlib.nullcontext())
    run = torch.compile(model) if compile_ else model
    inputs = (images,)
    if getattr(model, "requires_landmarks", False):
        inputs += (synthetic_landmarks(batch_size, img_size, device),)

    if mode == "infer":
        model.eval()

        def step():
            with torch.inference_mode(), autocast:
                run(*inputs)
        return step

    model.train()
    groups = [list(g) for g in getattr(model, "loss_groups", [])]
    targets = (torch.rand(batch_size, len(getattr(model, "aus", ())), device=device) > 0.5).float()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                                lr=1e-3, momentum=0.9, weight_decay=1e-3)

    def step():
        with autocast:
            logits = run(*inputs).float()
        loss = sum(F.binary_cross_entropy_with_logits(logits[:, g], targets[:, g]) for g in groups)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def time_step(step: Callable[[], None], steps: int, device: torch.device) -> float:
    """Seconds per step, averaged over ``steps`` back-to-back steps."""
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return (time.perf_counter() - start) / steps


def measure(steps_by_name: Dict[str, Callable[[], None]], args, device) -> Dict[str, float]:
    """Median seconds per step of each step function, timed in alternation."""
    for step in steps_by_name.values():
        for _ in range(args.warmup):
            step()
    times: Dict[str, List[float]] = {name: [] for name in steps_by_name}
    for _ in range(args.repeats):
        for name, step in steps_by_name.items():
            times[name].append(time_step(step, args.steps, device))
    return {name: statistics.median(t) for name, t in times.items()}


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def bench_model(name: str, mode: str, args, device, dtype) -> Optional[dict]:
    from auzoo.models.summary import count_flops, count_params

    model = build(name, args.cfg_options, device, args.channels_last)
    _, total = count_params(model)
    gmacs = count_flops(model, args.img_size) / 2e9
    batch_size = args.batch_size
    while True:
        step = None
        try:
            step = make_step(model, mode, batch_size, args.img_size, device, dtype,
                             args.channels_last, args.compile)
            seconds = measure({name: step}, args, device)[name]
            break
        except (RuntimeError, torch.OutOfMemoryError) as exc:
            if device.type != "cuda" or not is_oom(exc) or batch_size == 1:
                raise
            del step
            torch.cuda.empty_cache()
            batch_size //= 2
            print(f"  {name} {mode}: out of memory, batch size -> {batch_size}", flush=True)
    rate = batch_size / seconds
    achieved = model_gflops(gmacs, rate, mode)
    ref_dtype = "bfloat16" if args.dtype == "bfloat16" else "float32"
    return dict(model=name, img_size=args.img_size, batch_size=batch_size,
                samples_per_sec=round(rate, 2), step_time_ms=round(1000 * seconds, 2),
                param_count_m=round(total / 1e6, 2), gmacs=round(gmacs, 3), device=args.device_name,
                dtype=args.dtype, channels_last=args.channels_last, compile=args.compile, mode=mode,
                achieved_gflops=round(achieved, 1),
                reference_gflops=args.machine.reference_gflops.get(ref_dtype),
                of_reference=args.machine.fraction(achieved, ref_dtype),
                load_1min=load_average()[0])


def vs_backbone(name: str, args, device, dtype) -> str:
    """Inference time of ``name`` against its backbone alone, same run, alternating."""
    model = build(name, args.cfg_options, device, args.channels_last)
    backbone = model.backbone
    batch = args.vs_batch_size
    steps = {
        name: make_step(model, "infer", batch, args.img_size, device, dtype, args.channels_last, args.compile),
        "backbone": make_step(backbone, "infer", batch, args.img_size, device, dtype,
                              args.channels_last, args.compile),
    }
    window = Machine.start(device, reference=False)
    seconds = measure(steps, args, device)
    window.finish()
    ratio = seconds[name] / seconds["backbone"]
    from auzoo.models.summary import count_flops

    def achieved(key, net):
        gflops = model_gflops(count_flops(net, args.img_size) / 2e9, batch / seconds[key], "infer")
        return f"{gflops:.1f} GFLOP/s = {args.machine.fraction(gflops):.2f} of the reference"

    return "\n".join([
        f"{name} inference vs its backbone ({type(backbone).__name__}) alone",
        *args.machine.lines(),
        "during this comparison: " + window.lines()[1],
        f"torch {torch.__version__}, img_size {args.img_size}, batch {batch}, dtype {args.dtype}, "
        f"channels_last {args.channels_last}, compile {args.compile}",
        f"warm-up {args.warmup}, {args.repeats} repeats x {args.steps} steps, alternating; medians",
        f"{name}: {1000 * seconds[name]:.1f} ms/batch ({batch / seconds[name]:.1f} images/s, "
        f"{achieved(name, model)})",
        f"backbone: {1000 * seconds['backbone']:.1f} ms/batch ({batch / seconds['backbone']:.1f} "
        f"images/s, {achieved('backbone', backbone)})",
        f"ratio {name} / backbone: {ratio:.2f}x (goal <= 2.0x: {'met' if ratio <= 2.0 else 'NOT met'})",
    ])


def parse_args(argv=None):
    from mmengine.config import DictAction

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", help="model names or config files (default: every registered model)")
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, help="default: 16 on CPU; on CUDA 256, halved until it fits")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--dtype", choices=sorted(DTYPES), help="autocast dtype (default: bfloat16 on CUDA, else float32)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="default: on for CUDA, off for CPU")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--mode", choices=("infer", "train", "both"), default="both")
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps (default: 1 CPU, 5 CUDA)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats; the median is reported")
    p.add_argument("--steps", type=int, default=None, help="steps per timed repeat (default: 1 CPU, 20 CUDA)")
    p.add_argument("--vs-backbone", nargs="*", default=["tranet"], metavar="MODEL",
                   help="also time these models' inference against their backbone alone (none: skip)")
    p.add_argument("--vs-batch-size", type=int, default=16)
    p.add_argument("--vs-out", help="write the model-vs-backbone report to this text file")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, default={}, metavar="KEY=VALUE",
                   help="config overrides for every model, e.g. model.band_only=False")
    p.add_argument("--out", help="CSV file to write (default: print only)")
    p.add_argument("--resume", action="store_true", help="skip (model, mode) rows already in --out")
    args = p.parse_args(argv)

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = device.type == "cuda"
    args.dtype = args.dtype or ("bfloat16" if cuda else "float32")
    args.channels_last = cuda if args.channels_last is None else args.channels_last
    args.batch_size = args.batch_size or (256 if cuda else 16)
    args.warmup = (5 if cuda else 1) if args.warmup is None else args.warmup
    args.steps = (20 if cuda else 1) if args.steps is None else args.steps
    args.device_name = machine(device)
    if cuda:
        torch.backends.cudnn.benchmark = True
    args.machine = Machine.start(device)
    return args, device


def main(argv=None) -> int:
    import auzoo
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    args, device = parse_args(argv)
    dtype = DTYPES[args.dtype]
    models = args.models or auzoo.list_models()
    modes = ("infer", "train") if args.mode == "both" else (args.mode,)
    console = Console()
    console.print(f"[bold]{args.device_name}[/] torch {torch.__version__}  img {args.img_size}  "
                  f"dtype {args.dtype}  channels_last {args.channels_last}  compile {args.compile}")
    for line in args.machine.lines():
        console.print(line, highlight=False)

    done = set()
    out = Path(args.out) if args.out else None
    if out and args.resume and out.is_file():
        with out.open(newline="") as f:
            done = {(r["model"], r["mode"]) for r in csv.DictReader(f)}
    elif out and out.exists():
        out.unlink()  # a fresh run replaces the previous file
    rows = []
    cells = [(m, mode) for m in models for mode in modes if (m, mode) not in done]
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("models", total=len(cells))
        for name, mode in cells:
            progress.update(task, description=f"{name} {mode}")
            row = bench_model(name, mode, args, device, dtype)
            rows.append(row)
            console.print(f"{name:>20} {mode:5}  {row['samples_per_sec']:9.1f} images/s  "
                          f"{row['step_time_ms']:9.1f} ms/step  batch {row['batch_size']}  "
                          f"{row['of_reference']} of the reference  load {row['load_1min']}",
                          highlight=False)
            if out:
                out.parent.mkdir(parents=True, exist_ok=True)
                new = not out.exists()
                with out.open("a", newline="") as f:
                    writer = csv.DictWriter(f, fieldnames=FIELDS)
                    if new:
                        writer.writeheader()
                    writer.writerow(row)
            progress.advance(task)
            if device.type == "cuda":
                torch.cuda.empty_cache()

    if rows:
        table = Table(title=f"throughput at {args.img_size}px on {args.device_name}")
        for field in ("model", "mode", "batch_size", "samples_per_sec", "step_time_ms", "param_count_m", "gmacs"):
            table.add_column(field, justify="left" if field in ("model", "mode") else "right")
        for row in rows:
            table.add_row(*(str(row[f]) for f in ("model", "mode", "batch_size", "samples_per_sec",
                                                  "step_time_ms", "param_count_m", "gmacs")))
        console.print(table)

    reports = [vs_backbone(name, args, device, dtype) for name in args.vs_backbone]
    args.machine.finish()
    console.print(args.machine.lines()[1], highlight=False)
    for report in reports:
        console.print(report)
    if args.vs_out and reports:
        Path(args.vs_out).write_text("\n\n".join(reports) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
