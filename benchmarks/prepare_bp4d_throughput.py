"""BP4D prepare throughput: frames/s per worker at 1040x1392 with dlib landmarks.

    python benchmarks/prepare_bp4d_throughput.py [--frames 60] [--out FILE]

1. writes a synthetic BP4D sequence at BP4D's 1040 x 1392 (JPEG, 4-digit names);
2. times each stage of preparing a frame, one by one, in this process (one
   worker = one core): JPEG decode (full size, and the half-size decode
   prepare uses), colour conversion, dlib's face detector, its 68-point
   shape predictor, the tracker as prepare runs it (detector every 10th
   frame, shape predictor and optical flow on every frame), alignment, and
   the write into the memory-mapped cache;
3. runs ``prepare_bp4d`` end to end with one worker (dlib landmarks).

Goal: >= 50 frames/s per worker (full BP4D, 146,847 frames, in under 5 minutes
on 16 cores). With the figures: the machine's load average, its cores, and a
reference (single-thread float32 matmul GFLOP/s, measured in the same run),
so that a figure taken on a busy machine can be told apart.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from auzoo.data.align import similarity_matrix
from auzoo.data.datasets.bp4d.prepare import prepare_bp4d
from auzoo.data.datasets.bp4d.prepare import DETECTOR
from auzoo.data.datasets.bp4d.synth import synth_bp4d
from auzoo.vision.faces import FaceDetector, LandmarkPredictor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import Machine, save_report  # noqa: E402

GOAL_FPS = 50


def matmul_gflops(n: int = 1024, seconds: float = 1.0) -> float:
    """Single-thread float32 matmul GFLOP/s (torch, one thread as one worker has)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.rand(n, n), torch.rand(n, n)
        a @ b
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            a @ b
            done += 1
        return 2 * n ** 3 * done / (time.perf_counter() - start) / 1e9
    finally:
        torch.set_num_threads(threads)


def per_frame(fn, items) -> float:
    """Mean milliseconds of ``fn`` over ``items``."""
    start = time.perf_counter()
    for x in items:
        fn(x)
    return (time.perf_counter() - start) / len(items) * 1e3


def stage_times(paths, size: int) -> dict:
    from auzoo.data.detected import VideoLandmarks

    full = [cv2.imread(str(p)) for p in paths]
    half = [cv2.imread(str(p), cv2.IMREAD_REDUCED_COLOR_2) for p in paths]
    rgb = [cv2.cvtColor(b, cv2.COLOR_BGR2RGB) for b in half]
    detector = FaceDetector(max_side=DETECTOR.max_side, threshold=DETECTOR.threshold)
    predictor = LandmarkPredictor()
    boxes = [detector(x) for x in rgb[:5]]
    box = boxes[0][0][0]
    track = VideoLandmarks(DETECTOR)
    points = [track(x) for x in rgb]
    ok = [p for p in points if p is not None]
    out = np.lib.format.open_memmap(Path(tempfile.mkdtemp()) / "f.npy", mode="w+",
                                    dtype=np.uint8, shape=(len(paths), size, size, 3))
    m = similarity_matrix(ok[0] * 2 + 0.5, size)
    return {
        "decode, full size": per_frame(lambda p: cv2.imread(str(p)), paths),
        "decode, half size (what prepare uses)": per_frame(
            lambda p: cv2.imread(str(p), cv2.IMREAD_REDUCED_COLOR_2), paths),
        "BGR -> RGB": per_frame(lambda b: cv2.cvtColor(b, cv2.COLOR_BGR2RGB), half),
        f"face detector (one call, {DETECTOR.max_side}-px view)": per_frame(detector, rgb[:10]),
        "shape predictor (one call)": per_frame(lambda x: predictor(x, box), rgb),
        "tracker per frame (what prepare pays)": per_frame(VideoLandmarks(DETECTOR), rgb),
        "align (similarity + warp)": per_frame(
            lambda b: cv2.warpAffine(b, m, (size, size)), half),
        "write into the cache": per_frame(lambda k: out.__setitem__(k, half[0][:size, :size]),
                                          range(len(paths))),
        "_found": f"{len(ok)}/{len(points)} faces found; full frame {full[0].shape[1]}x{full[0].shape[0]}",
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60, help="coded frames of the synthetic sequence")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--workdir", help="where to write the data (default: a temporary folder)")
    ap.add_argument("--out", help="also write the report to this file")
    args = ap.parse_args(argv)
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bp4d_bench_"))
    machine = Machine.start("cpu", reference=False)
    say(f"auzoo BP4D prepare throughput  {time.strftime('%Y-%m-%d %H:%M')}")
    say(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, opencv {cv2.__version__}")
    load0 = machine.load_before
    say(f"load average (1, 5, 15 min) at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    ref = matmul_gflops()
    say(f"reference: float32 1024x1024 matmul, one thread: {ref:.1f} GFLOP/s")

    root = work / "bp4d"
    start = time.perf_counter()
    synth_bp4d(root, subjects=1, frames=args.frames, tasks=1, seed=0, width=1040, height=1392)
    say(f"synthetic BP4D: 1 sequence, {args.frames} coded frames at 1040x1392 "
        f"({time.perf_counter() - start:.1f} s to draw)")
    paths = sorted((root / "Sequences(2D+3D)" / "F001" / "T1").glob("*.jpg"))
    kb = np.mean([p.stat().st_size for p in paths]) / 1024
    say(f"JPEG files: {kb:.0f} KB on average (quality 92, with sensor-like noise; decoding time "
        "grows with the file size)")

    stages = stage_times(paths, args.size)
    say(f"\nstages, one process ({stages.pop('_found')}):")
    paid = ("decode, half size (what prepare uses)", "BGR -> RGB",
            "tracker per frame (what prepare pays)", "align (similarity + warp)", "write into the cache")
    total = sum(stages[k] for k in paid)
    for name, ms in stages.items():
        share = f"  {ms / total * 100:5.1f} % of a frame" if name in paid else ""
        say(f"  {name:42s} {ms:7.2f} ms{share}")
    say(f"  {'sum of what prepare pays':42s} {total:7.2f} ms  -> {1e3 / total:.0f} frames/s")
    top = max(paid, key=lambda k: stages[k])
    say(f"dominant: {top}")

    start = time.perf_counter()
    meta = prepare_bp4d(root, work / "cache", workers=1, size=args.size)
    took = time.perf_counter() - start
    n = meta["totals"]["csv_rows"]
    fps = n / took
    say(f"\nprepare_bp4d end to end, 1 worker, dlib landmarks: {n} frames in {took:.2f} s = "
        f"{fps:.1f} frames/s per worker (goal >= {GOAL_FPS}); "
        f"{meta['totals']['no_face']} frames without a face")
    say(f"full BP4D (146,847 frames) at this rate: {146847 / fps / 60:.1f} min on 1 core, "
        f"{146847 / fps / 16 / 60:.1f} min on 16")
    machine.finish()
    say(machine.lines()[1])
    if machine.busy:
        say("NOTE: the machine was shared with other jobs while this ran; the figures are lower "
            "bounds")
    save_report("\n".join(lines), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
