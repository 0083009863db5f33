"""End-to-end ``auzoo predict`` frames/s on a video against the model alone.

Makes a video of a real face moving (matplotlib's Grace Hopper photo on a
larger canvas, drifting and zooming), a checkpoint of the chosen model with
random weights, then measures in one run, alternating so that load from
other processes hits both alike:

* pipeline: ``Predictor(...)(video)`` — decode, detect (downscaled, every
  ``--detect-every`` frames), track, align, batch, model, table;
* model alone: the same model on the same aligned faces, same batch size,
  uint8 -> float conversion included.

Also reports decode alone and faces alone (decode + detect + track + align,
single-threaded), to show where the time goes. Goal: pipeline >= 0.85x the
model-alone rate.

    python benchmarks/predict_throughput.py                       # tranet, CPU
    python benchmarks/predict_throughput.py --model senet50 --frames 64 --out result.txt
    python benchmarks/predict_throughput.py --device cuda --batch-size 64 --frames 512
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import Machine, model_gflops, save_report  # noqa: E402


def make_video(path: Path, frames: int, width: int, height: int, fps: float) -> Path:
    """A face drifting and zooming slowly over a textured background."""
    face = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (0, 0), 5)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write mp4v video here")
    fh, fw = face.shape[:2]
    for i in range(frames):
        t = i / max(frames - 1, 1)
        scale = 0.55 * height / fh * (1 + 0.15 * np.sin(2 * np.pi * t))
        cx = width / 2 + 0.2 * width * np.sin(2 * np.pi * t)
        cy = height / 2 + 0.05 * height * np.cos(2 * np.pi * t)
        m = np.float32([[scale, 0, cx - scale * fw / 2], [0, scale, cy - scale * fh / 2]])
        frame = cv2.warpAffine(face, m, (width, height), dst=background.copy(),
                               borderMode=cv2.BORDER_TRANSPARENT)
        writer.write(frame)
    writer.release()
    return path


def make_checkpoint(path: Path, model: str, img_size: int) -> Path:
    import auzoo
    from auzoo.engine.checkpoint import save_checkpoint

    torch.manual_seed(0)
    net = auzoo.build_model(model)
    return save_checkpoint(path, net.state_dict(), dict(
        config=net.cfg.pretty_text, model=net.name, aus=list(net.aus), img_size=img_size))


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="tranet", help="registered model or config file")
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--frames", type=int, default=96)
    p.add_argument("--size", default="640x480", help="video WIDTHxHEIGHT")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--detect-every", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's, one per core)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each (median reported)")
    p.add_argument("--workers", type=int, nargs="+",
                   help="pipeline variants to time: N = faces in N worker processes, 0 = all in "
                        "one process (default: auzoo predict's choice here, then 0 or 1)")
    p.add_argument("--out", help="also write the report to this file")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = Machine.start(args.device)
    m = measure(args)
    machine.finish()
    report = "\n".join(report_lines(args, m, machine, argv))
    print(report)
    save_report(report, args.out)
    return 0


def measure(args) -> dict:
    """Decode alone, faces alone, then the model alone and the pipeline variants
    in alternation (so that load from other processes hits all alike)."""
    from auzoo.inference import Predictor, Source
    from auzoo.vision.video import iter_frames

    width, height = (int(v) for v in args.size.lower().split("x"))
    work = Path(tempfile.mkdtemp(prefix="auzoo-predict-bench-"))
    video = make_video(work / "face.mp4", args.frames, width, height, args.fps)
    ckpt = make_checkpoint(work / "model.pth", args.model, args.img_size)
    predictor = Predictor(ckpt, device=args.device, batch_size=args.batch_size,
                          detect_every=args.detect_every)
    inference = predictor.inference
    chosen = predictor.workers  # what auzoo predict does on this machine
    variants = args.workers or [chosen, 0 if chosen else 1]

    # Single-threaded decode, and decode + faces: where the pipeline's CPU time goes.
    decode_s, n_frames = timed(lambda: sum(1 for _ in iter_frames(video)))
    faces_s, units = timed(lambda: list(predictor.faces.video(0, Source(video, "video"),
                                                             lambda chunk: True)))
    rows = [row for unit in units for frame in unit.frames for row in frame]
    aligned = np.stack([r.aligned for r in rows if r.aligned is not None])
    points = np.stack([r.points for r in rows if r.points is not None])
    if len(aligned) != n_frames:
        print(f"warning: faces found in {len(aligned)} of {n_frames} frames", file=sys.stderr)

    def model_alone():
        for i in range(0, len(aligned), args.batch_size):
            inference.probabilities(aligned[i:i + args.batch_size], points[i:i + args.batch_size])
        if inference.device.type == "cuda":
            torch.cuda.synchronize()

    def pipeline(workers):
        predictor.workers = workers
        table = predictor(video, progress=False)
        assert len(table) == n_frames, (len(table), n_frames)

    model_alone()  # warm-up (allocator, oneDNN / cuDNN kernel choice)
    model_times, pipeline_times = [], {w: [] for w in variants}
    for _ in range(args.repeats):
        model_times.append(timed(model_alone)[0])
        for w in variants:
            pipeline_times[w].append(timed(lambda: pipeline(w))[0])
    return dict(predictor=predictor, chosen=chosen, variants=variants, size=(width, height),
                n_frames=n_frames, n_faces=len(aligned), decode_s=decode_s, faces_s=faces_s,
                model_times=model_times, pipeline_times=pipeline_times)


def achieved(m: dict, fps: float, machine: Machine) -> str:
    """The model's achieved GFLOP/s and its fraction of the reference product."""
    from auzoo.models.summary import count_flops

    inference = m["predictor"].inference
    gflops = model_gflops(count_flops(inference.model, inference.img_size) / 2e9, fps, "infer")
    dtype = "bfloat16" if inference.precision == "bf16" else "float32"
    return f"{gflops:.1f} GFLOP/s = {machine.fraction(gflops, dtype)} of the reference"


def report_lines(args, m: dict, machine: Machine, argv) -> list:
    from auzoo.engine.checkpoint import device_name

    inference, n_frames, n_faces = m["predictor"].inference, m["n_frames"], m["n_faces"]
    model_fps = n_faces / statistics.median(m["model_times"])
    first = m["variants"][0]
    ratio = n_frames / statistics.median(m["pipeline_times"][first]) / model_fps
    # Also per repeat (model and pipeline run back to back): less sensitive to load changes.
    paired = [(t_model / n_faces) / (t_pipe / n_frames)
              for t_model, t_pipe in zip(m["model_times"], m["pipeline_times"][first])]
    lines = [
        "auzoo predict throughput: end-to-end vs the model alone (same run)",
        *machine.lines(),
        f"device: {device_name(inference.device)}",
        f"model: {args.model} at {m['predictor'].img_size}px, batch {args.batch_size}, "
        f"{inference.precision}" + (", channels_last" if inference.channels_last else ""),
        f"video: {n_frames} frames {m['size'][0]}x{m['size'][1]} mp4v at {args.fps:g} fps, one "
        f"face ({n_faces} found); detect every {args.detect_every} frames on <= 640 px",
        f"command: python benchmarks/predict_throughput.py {' '.join(argv or sys.argv[1:])}".rstrip(),
        "",
        f"decode alone               {n_frames / m['decode_s']:9.1f} frames/s",
        f"faces alone (1 thread)     {n_frames / m['faces_s']:9.1f} frames/s  "
        "(decode + detect/track + 68 landmarks + align)",
        f"model alone                {model_fps:9.1f} frames/s  "
        f"(runs: {', '.join(f'{t:.2f}s' for t in m['model_times'])}; {achieved(m, model_fps, machine)})",
    ]
    for w, times in m["pipeline_times"].items():
        fps = n_frames / statistics.median(times)
        label = (f"{w} worker process{'es' if w > 1 else ''}" if w else "one process") \
            + (" *" if w == m["chosen"] else "")
        lines.append(f"pipeline, {label:17s}{fps:7.1f} frames/s  ({fps / model_fps:.2f}x the model; "
                     f"runs: {', '.join(f'{t:.2f}s' for t in times)})")
    lines.append(f"(* what auzoo predict chooses here: workers={m['chosen']}, "
                 f"{torch.get_num_threads()} torch threads on {os.cpu_count()} cores)")
    lines.append(f"goal: pipeline (workers={first}) >= 0.85x the model alone: "
                 f"{ratio:.2f}, {'met' if ratio >= 0.85 else 'NOT met'} (per repeat: "
                 f"{', '.join(f'{r:.2f}' for r in paired)})")
    return lines


if __name__ == "__main__":
    sys.exit(main())
