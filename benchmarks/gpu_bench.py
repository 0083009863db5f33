"""One GPU measurement of auzoo in one call (about 6 minutes on one H100).

1. TRA-Net throughput at 224 x 224, bf16 autocast, channels-last:
   inference (images/s) and training steps (forward, per-branch summed BCE,
   backward, SGD on the trainable parameters), eager and ``torch.compile``d.
2. The data pipeline alone: AU-weighted batches from a prepared cache through
   DataLoader workers (can it feed the GPU?).
3. A short training on a synthetic DISFA through ``auzoo.engine.train.train``
   (mmengine Runner, AU-weighted sampler, validation every epoch, checkpoints):
   images/s of the real pipeline and the F1 it reaches.

Prints a report and writes ``gpu_bench.md`` and ``gpu_bench.json`` to
``--out`` (default: ``$OUT``, else ``./gpu_bench_out``). ``--smoke`` runs
every part tiny on the CPU to check the script before spending GPU time.

The GPU machine has no mmengine (and no network): ``--wheels DIR`` installs
what is missing from wheels brought along (see benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STARTED = time.perf_counter()


def elapsed() -> float:
    return time.perf_counter() - STARTED


def log(msg: str) -> None:
    print(f"[{elapsed():6.1f}s] {msg}", flush=True)


def ensure_packages(wheels) -> None:
    """Install auzoo's pure-Python needs the machine lacks from local wheels."""
    missing = []
    for module, requirement in (("mmengine", "mmengine==0.10.7"),
                                ("importlib_metadata", "importlib-metadata"), ("rich", "rich")):
        try:
            __import__(module)
        except ImportError:
            missing.append(requirement)
    if not missing:
        return
    if wheels is None:
        sys.exit(f"missing {', '.join(missing)}: pass --wheels DIR (see benchmarks/README.md)")
    log(f"installing {', '.join(missing)} from {wheels}")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--find-links",
                    str(wheels), "--quiet", *missing], check=True)


# --------------------------------------------------------------------------
# throughput
# --------------------------------------------------------------------------

def _sync(device) -> None:
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(model_name: str, *, mode: str, batch: int, img_size: int, device, compile_: bool,
               steps: int, warmup: int, repeats: int, amp: bool, channels_last: bool) -> dict:
    """Median images/s over ``repeats`` timed runs of ``steps`` steps."""
    import torch

    import auzoo
    from auzoo.engine.model import grouped_bce

    torch.manual_seed(0)
    net = auzoo.build_model(model_name).to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    x = torch.rand(batch, 3, img_size, img_size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = (torch.rand(batch, len(net.aus), device=device) < 0.3).float()
    fn = torch.compile(net) if compile_ else net
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp)
    if mode == "train":
        net.train()
        optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=1e-3,
                                    momentum=0.9, weight_decay=1e-3)

        def step():
            with autocast:
                loss = grouped_bce(fn(x).float(), y, net.loss_groups)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    else:
        net.eval()

        def step():
            with torch.inference_mode(), autocast:
                fn(x)

    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    _sync(device)
    warm_s = time.perf_counter() - t0
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        rates.append(batch * steps / (time.perf_counter() - t0))
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    del fn, net
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    return dict(model=model_name, mode=mode, batch=batch, img_size=img_size, compile=compile_,
                images_per_s=round(statistics.median(rates), 1),
                step_ms=round(1000 * batch / statistics.median(rates), 2),
                warmup_s=round(warm_s, 1), peak_mem_gib=round(peak, 2),
                dtype="bf16 autocast" if amp else "fp32", channels_last=channels_last)


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

def synthetic_cache(root: Path, *, subjects: int, frames: int, width: int, height: int,
                    size: int) -> Path:
    from auzoo.data.prepare import prepare_disfa
    from auzoo.data.synth import synth_disfa

    raw, cache = root / "raw", root / "cache"
    if not (cache / "meta.json").exists():
        synth_disfa(raw, subjects=subjects, frames=frames, width=width, height=height, seed=0)
        prepare_disfa(raw, cache, size=size, workers=min(16, os.cpu_count() or 1))
    return cache


def loader_throughput(cache: Path, *, batch: int, iters: int, workers: int, pin: bool) -> dict:
    from auzoo.data import open_cache
    from auzoo.data.dataset import DisfaFrames, make_loader
    from auzoo.data.protocol import DISFA

    frames = DisfaFrames(open_cache(cache), DISFA.fold_subjects(1)[0], hflip=True)
    loader = make_loader(frames, batch_size=batch, iters_per_epoch=iters, num_workers=workers,
                         pin_memory=pin)
    it = iter(loader)
    next(it)  # workers started
    t0 = time.perf_counter()
    n = 0
    for batch_ in it:
        n += len(batch_["image"])
    rate = n / (time.perf_counter() - t0)
    return dict(batch=batch, workers=workers, images_per_s=round(rate, 1),
                frame_size=int(frames.size), frames=len(frames))


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.environ.get("OUT") or "gpu_bench_out")
    p.add_argument("--smoke", action="store_true", help="every part tiny, on the CPU")
    p.add_argument("--model", default="tranet")
    p.add_argument("--device", help="default: cuda (cpu with --smoke)")
    p.add_argument("--wheels", help="folder of wheels for what the machine lacks (mmengine …)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    p.add_argument("--infer-batch", type=int, default=512)
    p.add_argument("--train-batch", type=int, nargs="+", default=[64, 256],
                   help="training batch sizes to time (the paper's is 64)")
    p.add_argument("--e2e-epochs", type=int, default=3, help="epochs of the short training")
    p.add_argument("--budget-s", type=float, default=420,
                   help="skip remaining optional parts once this much time has passed")
    args = p.parse_args(argv)

    sys.path.insert(0, str(REPO))
    ensure_packages(args.wheels)
    os.environ.setdefault("AUZOO_NO_PLUGINS", "1")
    import torch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device or ("cpu" if args.smoke else "cuda"))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    import mmengine
    import timm
    report = dict(device=f"{device} ({gpu})", torch=torch.__version__, timm=timm.__version__,
                  mmengine=mmengine.__version__, python=platform.python_version(),
                  cpus=os.cpu_count(), smoke=args.smoke, model=args.model, throughput=[],
                  loader=None, e2e=None, skipped=[])
    log(f"{report['device']}, torch {torch.__version__}, {os.cpu_count()} CPUs")

    amp = channels_last = device.type == "cuda"
    size = 64 if args.smoke else 224
    infer_batch = 8 if args.smoke else args.infer_batch
    train_batches = [4] if args.smoke else args.train_batch
    reps = dict(steps=2, warmup=1, repeats=1) if args.smoke else dict(steps=20, warmup=5, repeats=3)
    compiles = [False] if args.no_compile else [False, True]

    plan = [("infer", infer_batch, c) for c in compiles]
    plan += [("train", b, False) for b in train_batches]
    if not args.no_compile:
        plan.append(("train", max(train_batches), True))
    for mode, batch, compile_ in plan:
        if compile_ and elapsed() > args.budget_s * 0.5:
            report["skipped"].append(f"{mode} batch {batch} compiled (time)")
            continue
        log(f"{mode} batch {batch}{' compiled' if compile_ else ''} …")
        try:
            row = throughput(args.model, mode=mode, batch=batch, img_size=size, device=device,
                             compile_=compile_, amp=amp, channels_last=channels_last, **reps)
        except Exception as exc:  # a failed compile must not lose the other numbers
            report["skipped"].append(f"{mode} batch {batch} compile={compile_}: "
                                     f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            log(report["skipped"][-1])
            continue
        report["throughput"].append(row)
        log(f"  {row['images_per_s']:,.0f} images/s ({row['step_ms']} ms/step, "
            f"warm-up {row['warmup_s']} s, peak {row['peak_mem_gib']} GiB)")

    # synthetic DISFA, the loader, and a short training
    data = dict(subjects=27, frames=48, width=320, height=240, size=64) if args.smoke else \
        dict(subjects=27, frames=240, width=640, height=480, size=224)
    log(f"synthetic DISFA {data} …")
    t0 = time.perf_counter()
    cache = synthetic_cache(out / "synthetic-disfa", **data)
    report["data"] = dict(data, seconds=round(time.perf_counter() - t0, 1))
    workers = 0 if args.smoke else max(1, min(8, (os.cpu_count() or 2) - 1))
    report["loader"] = loader_throughput(cache, batch=16 if args.smoke else 256,
                                         iters=4 if args.smoke else 40, workers=workers,
                                         pin=device.type == "cuda")
    log(f"loader: {report['loader']['images_per_s']:,.0f} images/s with {workers} workers")

    if elapsed() < args.budget_s:
        from auzoo.engine.train import train
        log("short training (auzoo.engine.train) …")
        options = dict(max_epochs=2, iters_per_epoch=3, batch_size=8) if args.smoke else \
            dict(max_epochs=args.e2e_epochs, iters_per_epoch=100, batch_size=64)
        t0 = time.perf_counter()
        result = train(args.model, cache, 1, work_dir=out / "e2e", device=str(device),
                       img_size=size, **options)
        wall = time.perf_counter() - t0
        images = result["iters"] * options["batch_size"]
        report["e2e"] = dict(
            options, img_size=size, wall_s=round(wall, 1), train_s=round(result["train_time"], 1),
            eval_s=round(result["eval_time"], 1), iters=result["iters"],
            images_per_s_incl_validation=round(images / result["train_time"], 1),
            f1_mean=round(result["f1_mean"], 1), acc_mean=round(result["acc_mean"], 1),
            baseline_f1_mean=round(statistics.mean(result["baseline_f1"].values()), 1),
            best_epoch=result["best"]["epoch"], test_frames=result["frames"],
            precision=result["precision"])
        log(f"  {report['e2e']}")
    else:
        report["skipped"].append("short training (time)")

    report["total_s"] = round(elapsed(), 1)
    text = render(report)
    (out / "gpu_bench.json").write_text(json.dumps(report, indent=2))
    (out / "gpu_bench.md").write_text(text)
    print(text)
    return 0


def render(r: dict) -> str:
    lines = [f"# auzoo GPU benchmark: {r['model']} on {r['device']}", "",
             f"torch {r['torch']}, timm {r['timm']}, mmengine {r['mmengine']}, Python {r['python']}, "
             f"{r['cpus']} CPUs" + (" — SMOKE RUN (tiny sizes, CPU)" if r["smoke"] else ""), "",
             "## Model throughput", "",
             "| mode | batch | size | compile | images/s | ms/step | warm-up s | peak GiB | precision |",
             "|---|---:|---:|---|---:|---:|---:|---:|---|"]
    for t in r["throughput"]:
        lines.append(f"| {t['mode']} | {t['batch']} | {t['img_size']} | {'yes' if t['compile'] else 'no'} "
                     f"| {t['images_per_s']:,.0f} | {t['step_ms']} | {t['warmup_s']} | {t['peak_mem_gib']} "
                     f"| {t['dtype']}{', channels-last' if t['channels_last'] else ''} |")
    goals = []
    best = {m: max([t["images_per_s"] for t in r["throughput"] if t["mode"] == m], default=0)
            for m in ("train", "infer")}
    goals.append(f"training: best {best['train']:,.0f} images/s (goal >= 3,000 on one H100)")
    goals.append(f"inference: best {best['infer']:,.0f} images/s (goal >= 10,000 on one H100)")
    lines += ["", *[f"* {g}" for g in goals], ""]
    if r.get("loader"):
        lo = r["loader"]
        lines += ["## Data pipeline", "",
                  f"AU-weighted batches of {lo['batch']} from a {lo['frame_size']}-pixel cache "
                  f"({lo['frames']} training frames), {lo['workers']} workers: "
                  f"**{lo['images_per_s']:,.0f} images/s**.", ""]
    if r.get("data"):
        d = r["data"]
        lines += [f"Synthetic DISFA: {d['subjects']} subjects x {d['frames']} frames at "
                  f"{d['width']}x{d['height']}, prepared at {d['size']} px, in {d['seconds']} s.", ""]
    if r.get("e2e"):
        e = r["e2e"]
        lines += ["## Short training (auzoo train, fold 1, synthetic DISFA)", "",
                  f"{e['iters']} iterations of batch {e['batch_size']} at {e['img_size']} px "
                  f"({e['max_epochs']} epochs x {e['iters_per_epoch']}), {e['precision']}: "
                  f"{e['train_s']} s training including a validation per epoch "
                  f"(**{e['images_per_s_incl_validation']:,.0f} images/s**), test scoring {e['eval_s']} s.",
                  f"Mean F1 {e['f1_mean']} (always-present baseline {e['baseline_f1_mean']}), "
                  f"accuracy {e['acc_mean']}, best epoch {e['best_epoch']}, {e['test_frames']} test frames.",
                  ""]
    if r["skipped"]:
        lines += ["Skipped: " + "; ".join(r["skipped"]), ""]
    lines.append(f"Total {r['total_s']} s.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
