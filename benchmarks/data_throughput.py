"""Data pipeline throughput: prepare (frames/s per worker) and the cached loader (images/s).

    python benchmarks/data_throughput.py [--subjects 4 --frames 200] [--out FILE]

1. writes a synthetic DISFA at DISFA's 1024x768 (MJPG .avi, timed too);
2. times its stages one by one (decode, landmark files, loose crop) and
   ``prepare_disfa`` as a whole, with 1 worker and with 2;
3. times the loader as training and scoring use it: ``AUFrames`` through each
   built-in recipe's pipeline (TRA-Net's, JAA-Net's and ME-GraphAU's, train
   and test), ``AUWeightedBatchSampler`` batches of 64, through a torch
   DataLoader with 0, 1 and 2 worker processes (one warm-up epoch first, so
   the page cache holds the frames, as it does after the first epoch).

Goals on the 2-core development machine: prepare >= 200 frames/s per worker;
the loader with a full training pipeline (crop + flip + jitter at 224)
>= 1,000 images/s per worker. Figures on a shared machine are noisy.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from auzoo.data.align import LOOSE_SIZE, loose_crop
from auzoo.data.au_frames import AUFrames, make_loader
from auzoo.data.datasets.disfa.reader import DisfaRoot
from auzoo.data.datasets.disfa.prepare import prepare_disfa
from auzoo.data.datasets.disfa.synth import synth_disfa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import Machine, save_report  # noqa: E402


# Each built-in recipe (the configs' pipelines): (img_size, steps).
RECIPES = {
    "tranet train": (224, [dict(type="AlignMidline", size=224), dict(type="RandomFlip")]),
    "tranet test": (224, [dict(type="AlignMidline", size=224)]),
    "jaanet train": (176, [dict(type="AlignEyeBox", size=200, enlarge=2.9, border=128),
                           dict(type="RandomCrop", size=176), dict(type="RandomFlip")]),
    "jaanet test": (176, [dict(type="AlignEyeBox", size=200, enlarge=2.9, border=128),
                          dict(type="CenterCrop", size=176)]),
    "megraphau train": (224, [dict(type="AlignFivePoint", size=256),
                              dict(type="RandomCrop", size=224), dict(type="RandomFlip"),
                              dict(type="ColorJitter", brightness=0.4, contrast=0.4,
                                   saturation=0.4)]),
    "megraphau test": (224, [dict(type="AlignFivePoint", size=256),
                             dict(type="CenterCrop", size=224)]),
}


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--size", type=int, default=LOOSE_SIZE, help="the cache's loose crop")
    ap.add_argument("--batches", type=int, default=100, help="loader batches per timed epoch")
    ap.add_argument("--epochs", type=int, default=2, help="timed loader epochs")
    ap.add_argument("--workdir", help="where to write the data (default: a temporary folder)")
    ap.add_argument("--out", help="also write the report to this file")
    args = ap.parse_args(argv)

    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    say(f"auzoo data throughput  {time.strftime('%Y-%m-%d %H:%M')}")
    machine = Machine.start("cpu")
    for line in machine.lines():
        say(line)
    say(f"OpenCV {cv2.__version__}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        n = args.subjects * args.frames
        say(f"\nsynthetic DISFA: {args.subjects} subjects x {args.frames} frames, "
            f"{args.width}x{args.height} MJPG")
        _, sec = timed(lambda: synth_disfa(tmp / "disfa", subjects=args.subjects, frames=args.frames,
                                           width=args.width, height=args.height))
        say(f"  synth ({os.cpu_count()} workers): {sec:.1f} s, {n / sec:.0f} frames/s")

        # Stage by stage, one subject, one process.
        files = DisfaRoot(tmp / "disfa")["SN001"]
        frames, sec_decode = timed(lambda: list(files.frames(rgb=False)))
        (points, _), sec_lm = timed(lambda: files.read_landmarks(len(frames)))
        _, sec_align = timed(lambda: [loose_crop(f, p, args.size) for f, p in zip(frames, points)])
        k = len(frames)
        say(f"\nprepare stages (SN001, {k} frames, 1 process):")
        say(f"  decode 1024x768 MJPG (OpenCV)   {k / sec_decode:8.0f} frames/s")
        say(f"  read landmark .mat files        {k / sec_lm:8.0f} frames/s")
        say(f"  loose crop (warpAffine to {args.size}) {k / sec_align:8.0f} frames/s")
        frames = None  # the decoded video, freed before the next part

        say("\nprepare_disfa, whole pipeline (labels, landmarks, decode, align, write, index):")
        for workers in (1, 2):
            out = tmp / f"cache{workers}"
            _, sec = timed(lambda: prepare_disfa(tmp / "disfa", out, workers=workers, size=args.size))
            say(f"  workers={workers}: {sec:.1f} s, {n / sec:.0f} frames/s, "
                f"{n / sec / workers:.0f} frames/s per worker")

        say("\nloader: batches of 64 through each recipe's pipeline, AU-weighted sampler, "
            "torch DataLoader (images/s; per worker = images/s / workers)")
        subjects = DisfaRoot(tmp / "disfa").subjects
        for name, (img_size, steps) in RECIPES.items():
            dataset = AUFrames(tmp / "cache1", subjects, pipeline=steps, img_size=img_size)
            rates = []
            for num_workers in (0, 1, 2):
                loader = make_loader(dataset, batch_size=64, iters_per_epoch=args.batches,
                                     num_workers=num_workers)
                for _ in loader:  # warm-up: worker start, page cache
                    pass
                images = 0
                start = time.perf_counter()
                for _ in range(args.epochs):
                    for batch in loader:
                        images += batch["image"].shape[0]
                rates.append(images / (time.perf_counter() - start))
                del loader
            say(f"  {name:<16} {img_size:>3} px  workers 0/1/2: "
                + " / ".join(f"{r:6.0f}" for r in rates)
                + f"   per worker (1): {rates[1]:6.0f}")
            say(f"    {' -> '.join(s['type'] for s in steps)}")
    machine.finish()
    say(machine.lines()[1])
    save_report("\n".join(lines), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
