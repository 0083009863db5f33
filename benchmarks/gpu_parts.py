"""The parts of ``gpu_bench.py``: what each measures and how (see its docstring)."""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
from pathlib import Path

import torch

import auzoo_cli
from machine import Machine, load_average, model_gflops
from run_clock import epoch_split, iteration_times, read_clock

# Sizes of each part: on the GPU machine, and tiny for a CPU check of the script.
SETTINGS = {
    "gpu": dict(data=dict(frames=240, width=640, height=480, size=224),
                train=dict(epochs=3, iters=100, batch=64, img_size=224),
                infer_batch=512, train_batches=(64, 256), img_size=224,
                reps=dict(warmup=5, steps=20, repeats=3),
                overhead=dict(iters=30, epochs=5),
                train_needs_s=150, overhead_needs_s=45, eager_needs_s=60, compile_needs_s=150),
    # The smoke run trains a tiny model (mobilenetv3_small_050 in the ResNet-50 recipe): it
    # checks the script, and scoring the test fold with TRA-Net takes minutes on a busy CPU.
    "smoke": dict(data=dict(frames=48, width=160, height=120, size=64),
                  train=dict(epochs=2, iters=3, batch=8, img_size=64),
                  train_config=("auzoo::resnet50", "model = dict(backbone=dict("
                                "model_name='mobilenetv3_small_050', frozen_stages=0))\n"),
                  infer_batch=4, train_batches=(4,), img_size=64,
                  reps=dict(warmup=1, steps=1, repeats=1),
                  overhead=dict(iters=10, epochs=3),
                  train_needs_s=100, overhead_needs_s=40, eager_needs_s=20, compile_needs_s=60),
}


def setup_part(device: torch.device) -> dict:
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    machine = Machine.start(device)
    import mmengine
    import timm

    return dict(machine=machine.as_dict(), machine_lines=machine.lines(),
                versions=dict(torch=torch.__version__, timm=timm.__version__,
                              mmengine=mmengine.__version__), cpus=os.cpu_count())


def train_part(model: str, device: torch.device, settings: dict, scratch: Path, out: Path) -> dict:
    """``auzoo train MODEL`` on a synthetic DISFA; steady-state images/s and the epoch split."""
    cmd_log = scratch / "commands.log"
    workers = min(16, os.cpu_count() or 1)
    data = auzoo_cli.synthetic_cache(scratch, cmd_log, workers=workers, **settings["data"])
    clock = scratch / "clock.jsonl"
    clock.unlink(missing_ok=True)
    base, body = settings.get("train_config") or (f"auzoo::{model}", "")
    name = base.split("::")[-1] + ("_tiny" if body else "")  # the run records the file's name
    config = auzoo_cli.clocked_config(scratch / f"{name}.py", base, clock, body)
    t = settings["train"]
    work = scratch / "train"
    shutil.rmtree(work, ignore_errors=True)  # a fresh run, not a resumed one
    cmd = auzoo_cli.train_cmd(str(config), Path(data["cache"]), work, device=str(device),
                              options=auzoo_cli.train_options(epochs=t["epochs"], iters=t["iters"],
                                                              batch=t["batch"], img_size=t["img_size"]))
    ran = auzoo_cli.run(cmd, cmd_log, timeout=settings["train_needs_s"] * 1.5)
    (out / "train_log_tail.txt").write_text(auzoo_cli.tail(cmd_log, 80) + "\n")
    records = read_clock(clock) if clock.is_file() else []
    per_epoch = iteration_times(records)
    steady = [s for e, times in per_epoch.items() if e > 1 for s in times] or \
        [s for times in per_epoch.values() for s in times[len(times) // 2:]]
    split = epoch_split(records)
    result = auzoo_cli.read_result(work)
    row = dict(command=" ".join(cmd[3:]), exit=ran["rc"], wall_s=ran["seconds"], data=data,
               batch=t["batch"], img_size=t["img_size"], epochs=t["epochs"], iters_per_epoch=t["iters"],
               epoch_split=[{k: round(v, 3) for k, v in e.items()} for e in split])
    if steady:
        train_s = [e["train_s"] for e in split[1:] if "train_s" in e]
        row.update(
            what=f"steady-state training at batch {t['batch']} "
                 + ("(the protocol's)" if t["batch"] == 64 else "(smoke size; the protocol's is 64)")
                 + ": epochs after the first, device synchronised at each epoch's start and end; "
                 "loading, sampling and hooks included",
            images_per_s=round(t["batch"] * t["iters"] * len(train_s) / sum(train_s), 1)
            if train_s else round(t["batch"] / statistics.median(steady), 1),
            median_iter_ms=round(1000 * statistics.median(steady), 2))
    for key in ("f1_mean", "acc_mean", "precision", "best_epoch", "frames", "train_time",
                "eval_time"):
        if key in result:
            row[key] = result[key]
    if "baseline_f1" in result:
        values = list(result["baseline_f1"].values()) if isinstance(result["baseline_f1"], dict) \
            else list(result["baseline_f1"])
        row["baseline_f1_mean"] = round(statistics.mean(values), 1)
    if ran["rc"] != 0:
        row["error"] = f"auzoo train exited with {ran['rc']}; see train_log_tail.txt"
    return row


def _throughput_args(device: torch.device, settings: dict, compile_: bool, machine: Machine):
    bf16 = device.type == "cuda"
    return argparse.Namespace(
        cfg_options={}, channels_last=bf16, compile=compile_, img_size=settings["img_size"],
        dtype="bfloat16" if bf16 else "float32", device_name=str(device), machine=machine,
        **settings["reps"])


def _rows(model: str, device: torch.device, settings: dict, report, compile_: bool,
          plan) -> list:
    import throughput

    machine = Machine(**{k: v for k, v in report.data["parts"]["setup"]["machine"].items()
                         if k != "busy"})
    args = _throughput_args(device, settings, compile_, machine)
    dtype = throughput.DTYPES[args.dtype]
    rows = report.data["parts"].setdefault("compiled" if compile_ else "eager", [])
    for mode, batch in plan:
        args.batch_size = batch
        row = throughput.bench_model(model, mode, args, device, dtype)
        row["what"] = (f"{model} {'inference' if mode == 'infer' else 'training steps'} alone at "
                       f"batch {row['batch_size']}, {args.img_size} px, {args.dtype}"
                       f"{', channels-last' if args.channels_last else ''}"
                       f"{', torch.compile' if compile_ else ''}; random data on the device, "
                       f"{args.warmup} warm-up steps excluded, median of {args.repeats} x "
                       f"{args.steps} synchronised steps")
        row["load_1min_after"] = load_average()[0]
        rows.append(row)
        report.save()  # each row as soon as it is measured
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def eager_rows(model: str, device: torch.device, settings: dict, report) -> list:
    plan = [("train", b) for b in settings["train_batches"]] + [("infer", settings["infer_batch"])]
    return _rows(model, device, settings, report, False, plan)


def compiled_rows(model: str, device: torch.device, settings: dict, report) -> list:
    plan = [("infer", settings["infer_batch"]), ("train", settings["train_batches"][0])]
    return _rows(model, device, settings, report, True, plan)


def overhead_part(device: torch.device, settings: dict, scratch: Path) -> dict:
    """auzoo's training loop against a plain loop in the same process
    (``engine_overhead.py``): ms per iteration outside the model."""
    import engine_overhead

    o = settings["overhead"]
    result = engine_overhead.measure(device, scratch / "overhead", iters=o["iters"],
                                     epochs=o["epochs"])
    return dict(extra_ms=round(result["extra_ms"], 2), ratio=round(result["ratio"], 3),
                goal_met=result["goal_met"], lines=engine_overhead.report_lines(result))


__all__ = ["SETTINGS", "compiled_rows", "eager_rows", "overhead_part", "setup_part", "train_part",
           "model_gflops"]
