"""Where an epoch's time goes in ``auzoo train``: training, scoring, checkpoints.

Runs ``auzoo train`` on a synthetic DISFA with the two :mod:`run_clock`
hooks and reports, per epoch, the seconds spent

* training (from the epoch's start to its last iteration, device synchronised),
* in the hooks after the training epoch,
* scoring the selection fold (the whole test fold under the paper's protocol),
* in the hooks after scoring (auzoo saves the scored checkpoint there),

and the size of what the run leaves in its work folder (checkpoints).

    python benchmarks/epoch_split.py                                  # tiny model, CPU
    python benchmarks/epoch_split.py --model tranet --img-size 64 --iters 20
    python benchmarks/epoch_split.py --model tranet --device cuda --img-size 224 --iters 100 \\
        --frames 240 --out benchmarks/results/epoch_split_h200.txt
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import auzoo_cli  # noqa: E402
from machine import Machine, save_report  # noqa: E402
from run_clock import epoch_split, read_clock  # noqa: E402

TINY = ("model = dict(backbone=dict(model_name='mobilenetv3_small_050', frozen_stages=0))\n")


def folder_sizes(work: Path) -> dict:
    """Bytes of each file type the run left (checkpoints, predictions, logs)."""
    sizes: dict = {}
    for f in work.rglob("*"):
        if f.is_file():
            key = f.suffix or f.name
            sizes[key] = sizes.get(key, 0) + f.stat().st_size
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="tiny",
                   help="'tiny' (auzoo::resnet50 with mobilenetv3_small_050) or a model name")
    p.add_argument("--device", default="cpu")
    p.add_argument("--img-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--iters", type=int, default=20, help="iterations per epoch")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--frames", type=int, default=48, help="synthetic frames per subject")
    p.add_argument("--scratch", help="synthetic data and the run (default: a temp folder)")
    p.add_argument("--out", help="also write the report to this file")
    args = p.parse_args(argv)
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="auzoo-epoch-split-"))
    scratch.mkdir(parents=True, exist_ok=True)
    machine = Machine.start(args.device)
    log = scratch / "commands.log"
    data = auzoo_cli.synthetic_cache(scratch, log, frames=args.frames, width=320, height=240,
                                     size=args.img_size, workers=2)
    clock = scratch / "split_clock.jsonl"
    clock.unlink(missing_ok=True)
    base, body = ("auzoo::resnet50", TINY) if args.model == "tiny" else (f"auzoo::{args.model}", "")
    config = auzoo_cli.clocked_config(scratch / "split.py", base, clock, body)
    work = scratch / "split_run"
    shutil.rmtree(work, ignore_errors=True)  # a fresh run, not a resumed one
    options = auzoo_cli.train_options(epochs=args.epochs, iters=args.iters, batch=args.batch_size,
                                      img_size=args.img_size)
    cmd = auzoo_cli.train_cmd(str(config), Path(data["cache"]), work, device=args.device,
                              options=options)
    ran = auzoo_cli.run(cmd, log)
    machine.finish()
    if ran["rc"] != 0:
        print(auzoo_cli.tail(log, 30), file=sys.stderr)
        return 1
    result = auzoo_cli.read_result(work)
    rows = epoch_split(read_clock(clock))
    lines = ["where an epoch's time goes in auzoo train", *machine.lines(),
             f"command: auzoo {' '.join(cmd[3:])}",
             f"selection fold: {result.get('frames', '?')} frames scored per epoch; "
             f"{args.iters} iterations of {args.batch_size} trained per epoch", "",
             f"{'epoch':>5} {'train s':>9} {'after-train hooks s':>20} {'scoring s':>10} "
             f"{'after-scoring hooks s':>22}"]
    for r in rows:
        lines.append(f"{r['epoch']:>5} {r.get('train_s', float('nan')):9.2f} "
                     f"{r.get('after_train_hooks_s', float('nan')):20.3f} "
                     f"{r.get('eval_s', float('nan')):10.2f} "
                     f"{r.get('after_val_hooks_s', float('nan')):22.3f}")
    lines += ["", "left in the work folder after the run (bytes by file type): "
              + ", ".join(f"{k} {v:,}" for k, v in folder_sizes(work).items()),
              f"whole command: {ran['seconds']} s"]
    text = "\n".join(lines)
    print(text)
    save_report(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
