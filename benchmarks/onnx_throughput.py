"""PyTorch against onnxruntime: the model alone and ``auzoo predict`` end to end.

For each model (TRA-Net and the plugin models by default) the script writes a
checkpoint with random weights at the model's input size, exports it with
``auzoo export``, and measures in one run, alternating the two runtimes in
every repeat (and which goes first) so that load from other processes hits
both alike:

* model alone: batches of 1 and 16 aligned uint8 faces (and landmarks, for a
  model that needs them) through each runtime's predict backend, uint8 ->
  float included: images/s, and the achieved GFLOP/s as a fraction of the
  reference matrix product;
* end to end: ``auzoo predict`` on a video of a moving face (the one
  ``predict_throughput.py`` makes) with the checkpoint and with the .onnx
  file: frames/s.

Both runtimes use the same threads: onnxruntime's intra-op threads are set to
torch's, as ``auzoo predict`` sets them.

    python benchmarks/onnx_throughput.py                          # CPU, every default model
    python benchmarks/onnx_throughput.py tranet jaanet --repeats 5 --out result.txt
    python benchmarks/onnx_throughput.py tranet --img-size 64 --frames 8 --repeats 1   # quick check
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import Machine, model_gflops, save_report  # noqa: E402
from predict_throughput import make_video  # noqa: E402

DEFAULT_MODELS = ("tranet", "drml", "jaa_lite", "megraphau_r50", "megraphau_swinb", "jaanet")
RUNTIMES = ("torch", "onnxruntime")


def model_config(name: str, img_size=None):
    """The registered config (or config file); at ``img_size`` when given (a Swin
    backbone, built for one input size, is built for that one)."""
    from auzoo.config import load_config

    cfg = load_config(name)
    if img_size:
        cfg.img_size = img_size
        backbone = cfg.model.get("backbone") or {}
        if "swin" in str(backbone.get("model_name", "")):
            backbone["img_size"] = img_size
    cfg.img_size = int(cfg.get("img_size") or 224)
    return cfg


def make_checkpoint(path: Path, cfg) -> Path:
    import auzoo
    from auzoo.engine.checkpoint import save_checkpoint

    torch.manual_seed(0)
    net = auzoo.build_model(cfg)
    return save_checkpoint(path, net.state_dict(), dict(
        config=cfg.pretty_text, model=net.name, aus=list(net.aus), img_size=cfg.img_size))


def faces(n: int, size: int):
    """Random uint8 faces and face-shaped 66-point landmarks in their pixels."""
    from auzoo.data.align import landmarks68_to_66
    from auzoo.data.mean_face import MEAN_FACE_68

    rng = np.random.default_rng(0)
    points = (0.1 + 0.8 * landmarks68_to_66(MEAN_FACE_68) / MEAN_FACE_68.max()) * (size - 1)
    return (rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
            np.repeat(points[None].astype(np.float32), n, axis=0))


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def alternate(runs: dict, repeats: int) -> dict:
    """Seconds of each run per repeat, the runs taking turns (and turns at going first)."""
    times = {name: [] for name in runs}
    for r in range(repeats):
        order = list(runs) if r % 2 == 0 else list(runs)[::-1]
        for name in order:
            times[name].append(timed(runs[name])[0])
    return times


def bench_model(name: str, args, video: Path, n_frames: int, work: Path) -> dict:
    from auzoo.export import export_onnx
    from auzoo.inference import Predictor
    from auzoo.inference.backends import open_backend
    from auzoo.models.summary import count_flops

    cfg = model_config(name, args.img_size)
    size = cfg.img_size
    ckpt = make_checkpoint(work / f"{Path(name).stem}.pth", cfg)
    export_s, exported = timed(lambda: export_onnx(ckpt, work / f"{Path(name).stem}.onnx",
                                                   overwrite=True))
    weights = {"torch": ckpt, "onnxruntime": exported.path}
    backends = {rt: open_backend(w, device=args.device) for rt, w in weights.items()}
    net = backends["torch"].model
    gflop = count_flops(net, size) / 1e9
    frames, points = faces(max(args.batch_sizes), size)
    probs = {rt: b.inference.probabilities(frames, points) for rt, b in backends.items()}
    row = dict(model=exported.metadata.model, img_size=size, export_s=export_s,
               params_m=sum(p.numel() for p in net.parameters()) / 1e6, gflop=gflop,
               max_prob_diff=float(np.abs(probs["onnxruntime"] - probs["torch"]).max()),
               model_alone={}, predict={})
    for batch in args.batch_sizes:
        calls = max(1, math.ceil(args.images / batch))

        def run(inference, b=batch, n=calls):
            for _ in range(n):
                inference.probabilities(frames[:b], points[:b])
            if inference.device.type == "cuda":
                torch.cuda.synchronize()

        runs = {rt: (lambda i=backends[rt].inference: run(i)) for rt in RUNTIMES}
        for fn in runs.values():
            fn()  # warm-up: allocator, kernel choice, onnxruntime's first run
        times = alternate(runs, args.repeats)
        row["model_alone"][batch] = {rt: calls * batch / statistics.median(t)
                                     for rt, t in times.items()}
    del backends
    if args.frames:
        predictors = {rt: Predictor(w, device=args.device, batch_size=args.predict_batch_size,
                                    detect_every=args.detect_every) for rt, w in weights.items()}

        def predict(rt):
            table = predictors[rt](video, progress=False)
            assert len(table) == n_frames, (len(table), n_frames)

        times = alternate({rt: (lambda r=rt: predict(r)) for rt in RUNTIMES}, args.repeats)
        row["predict"] = {rt: n_frames / statistics.median(t) for rt, t in times.items()}
        row["workers"] = predictors["torch"].workers
    return row


def report_lines(args, rows, machine: Machine, video_info: str, argv) -> list:
    import onnxruntime

    lines = ["PyTorch against onnxruntime: the model alone and auzoo predict end to end "
             "(same run, alternating)", *machine.lines(),
             f"threads: torch {torch.get_num_threads()}, onnxruntime intra-op "
             f"{torch.get_num_threads()} (as auzoo predict sets them); onnxruntime "
             f"{onnxruntime.__version__}, {args.device}",
             f"command: python benchmarks/onnx_throughput.py {' '.join(argv)}".rstrip(), ""]
    lines.append(f"{'model':18s} {'px':>4s} {'batch':>5s} {'torch img/s':>12s} "
                 f"{'onnxrt img/s':>13s} {'onnxrt/torch':>12s}  GFLOP/s torch / onnxrt (of reference)")
    ratios = {b: [] for b in args.batch_sizes}
    for row in rows:
        for batch, rate in row["model_alone"].items():
            ratio = rate["onnxruntime"] / rate["torch"]
            ratios[batch].append(ratio)
            achieved = [model_gflops(row["gflop"] / 2, rate[rt], "infer") for rt in RUNTIMES]
            lines.append(f"{row['model']:18s} {row['img_size']:4d} {batch:5d} {rate['torch']:12.1f} "
                         f"{rate['onnxruntime']:13.1f} {ratio:11.2f}x  "
                         + " / ".join(f"{g:.0f} ({machine.fraction(g)})" for g in achieved))
    predicted = [row for row in rows if row["predict"]]
    if predicted:
        lines += ["", f"auzoo predict end to end: {video_info}",
                  f"{'model':18s} {'torch fr/s':>11s} {'onnxrt fr/s':>12s} {'onnxrt/torch':>12s}"]
        for row in predicted:
            p = row["predict"]
            lines.append(f"{row['model']:18s} {p['torch']:11.1f} {p['onnxruntime']:12.1f} "
                         f"{p['onnxruntime'] / p['torch']:11.2f}x  (face workers: {row['workers']})")
    lines += ["", "export and agreement: " + "; ".join(
        f"{r['model']} {r['params_m']:.1f}M params, exported in {r['export_s']:.1f} s, "
        f"max |p_onnxrt - p_torch| {r['max_prob_diff']:.1e}" for r in rows)]
    summary = [f"batch {b}: {geomean(v):.2f}x" for b, v in ratios.items() if v]
    if predicted:
        ratio = geomean([r["predict"]["onnxruntime"] / r["predict"]["torch"] for r in predicted])
        summary.append(f"predict: {ratio:.2f}x")
    lines.append("onnxruntime / torch, geometric mean over the models (> 1: onnxruntime faster): "
                 + ", ".join(summary))
    return lines


def geomean(values) -> float:
    return float(np.exp(np.mean(np.log(values))))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", default=list(DEFAULT_MODELS),
                   help="registered models or config files (default: TRA-Net and the plugin models)")
    p.add_argument("--img-size", type=int, help="input size of every model (default: each config's)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    p.add_argument("--images", type=int, default=32, help="images per timed repeat and batch size")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each (median reported)")
    p.add_argument("--frames", type=int, default=48, help="video frames for predict (0: skip it)")
    p.add_argument("--size", default="640x480", help="video WIDTHxHEIGHT")
    p.add_argument("--predict-batch-size", type=int, default=16)
    p.add_argument("--detect-every", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, help="torch (and onnxruntime) threads (default: torch's)")
    p.add_argument("--out", help="also write the report to this file")
    args = p.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = Machine.start(args.device)
    work = Path(tempfile.mkdtemp(prefix="auzoo-onnx-bench-"))
    width, height = (int(v) for v in args.size.lower().split("x"))
    video = make_video(work / "face.mp4", max(args.frames, 1), width, height, 30.0)
    video_info = (f"{args.frames} frames {width}x{height} mp4v, one face, batch "
                  f"{args.predict_batch_size}, detect every {args.detect_every} frames")
    rows = []
    for name in args.models:
        rows.append(bench_model(name, args, video, args.frames, work))
        print(f"done: {rows[-1]['model']}", file=sys.stderr)
    machine.finish()
    report = "\n".join(report_lines(args, rows, machine, video_info, argv))
    print(report)
    save_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
