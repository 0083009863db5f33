"""The ``auzoo`` command. Each subcommand's options are declared here; the work
is done by the module that owns it (imported only when the command runs, so
``auzoo list`` stays quick)."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from mmengine.config import DictAction


def _add_cfg_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                   metavar="KEY=VALUE",
                   help="override config entries, e.g. model.neck.out_channels=256 train.max_epochs=5")


# ----------------------------------------------------------------- list / show

def _cmd_list(args) -> int:
    from auzoo import registry

    from rich.console import Console
    from rich.table import Table

    console = Console()
    what = args.what
    if what in ("models", "all"):
        registry.ensure_loaded()
        table = Table(title="models")
        table.add_column("name")
        table.add_column("provided by")
        table.add_column("config")
        for name in sorted(registry.CONFIGS):
            prov = registry.CONFIG_PROVIDERS[name]
            table.add_row(name, prov.name, prov.where)
        console.print(table)
    if what in ("parts", "all"):
        for kind, entries in registry.registered_parts().items():
            table = Table(title=kind)
            table.add_column("name")
            table.add_column("provided by")
            table.add_column("defined at")
            for name, prov in entries.items():
                table.add_row(name, prov.name, prov.where)
            console.print(table)
    if what in ("plugins", "all"):
        plugins = registry.load_plugins()
        table = Table(title=f"plugins (entry-point group '{registry.PLUGIN_GROUP}')")
        for col in ("name", "distribution", "version", "status", "entry point", "registered / error"):
            table.add_column(col, overflow="fold")
        for p in plugins:
            detail = p.error if p.error else ", ".join(p.registered)
            style = {"loaded": "green", "failed": "red"}.get(p.status, "yellow")
            table.add_row(p.name, p.distribution, p.version, f"[{style}]{p.status}[/]", p.value, detail)
        if not plugins:
            console.print("no plugins installed")
        else:
            console.print(table)
        if registry.plugins_disabled():
            console.print(f"plugin loading is off ({registry.DISABLE_PLUGINS_ENV} is set)")
    return 0


def _cmd_show(args) -> int:
    from auzoo.models.summary import show_model

    show_model(args.model, args.cfg_options, img_size=args.img_size)
    return 0


# ------------------------------------------------------------- data: synth / prepare

def _cmd_synth(args) -> int:
    if args.dataset == "bp4d":
        from auzoo.data.synth.bp4d import synth_bp4d

        synth_bp4d(args.out, subjects=args.subjects or 3, frames=args.frames or 24,
                   tasks=args.tasks, seed=args.seed, width=args.width or 1040,
                   height=args.height or 1392, layout=args.layout)
        return 0
    from auzoo.data.synth import synth_disfa

    synth_disfa(args.out, subjects=args.subjects or 27, frames=args.frames or 300, seed=args.seed,
                width=args.width or 1024, height=args.height or 768, workers=args.workers)
    return 0


def _cmd_prepare(args) -> int:
    from auzoo.data import prepare

    if args.dataset == "disfa":
        prepare.prepare_disfa(args.root, args.out, workers=args.workers, camera=args.camera,
                              size=args.size)
    elif args.dataset == "bp4d":
        prepare.prepare_bp4d(args.root, args.out, workers=args.workers, size=args.size,
                             landmarks=args.landmarks)
    else:
        prepare.prepare_frames(args.root, args.out, workers=args.workers, size=args.size,
                               folds=args.folds, threshold=args.threshold)
    return 0


# ------------------------------------------------------------- train / eval / bench

def _add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-epochs", type=int, help="stop after this many epochs at most")
    p.add_argument("--iters-per-epoch", type=int, help="batches per epoch (paper: 100)")
    p.add_argument("--batch-size", type=int, help="batch size (paper: 64)")
    p.add_argument("--img-size", type=int, help="input size; the cache is resized if it differs")
    p.add_argument("--select-on", choices=("test", "val"),
                   help="choose the epoch on the test fold (the paper) or on held-out training subjects")
    p.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda if available)")
    p.add_argument("--compile", action="store_const", const=True, default=None,
                   help="torch.compile the training step (worth it on a GPU for long runs)")
    _add_cfg_options(p)


def _cmd_train(args) -> int:
    from auzoo.engine.train import train_cli

    return train_cli(args)


def _cmd_eval(args) -> int:
    from auzoo.engine.train import eval_cli

    return eval_cli(args)


def _cmd_bench(args) -> int:
    from auzoo.bench import bench_cli

    return bench_cli(args)


# ------------------------------------------------------------- predict / weights

def _cmd_predict(args) -> int:
    from auzoo.predict import predict_cli

    return predict_cli(args)


def _cmd_convert(args) -> int:
    from auzoo.weights import convert_cli

    return convert_cli(args)


def build_parser() -> argparse.ArgumentParser:
    from auzoo import __version__

    parser = argparse.ArgumentParser(
        prog="auzoo", description="A pluggable model zoo for facial action unit detection.")
    parser.add_argument("--version", action="version", version=f"auzoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="what is registered, and where it came from")
    p.add_argument("what", nargs="?", default="models", choices=("models", "parts", "plugins", "all"))
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("show", help="resolved config, parameter count and GFLOPs of a model")
    p.add_argument("model", help="model name or config file")
    p.add_argument("--img-size", type=int, help="input size for the GFLOPs count (default: the config's)")
    _add_cfg_options(p)
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("synth", help="write a synthetic dataset in a real dataset's layout")
    p.add_argument("dataset", choices=("disfa", "bp4d"))
    p.add_argument("out", help="output folder (the dataset root)")
    p.add_argument("--subjects", type=int,
                   help="how many subject ids (DISFA: of 27, default 27; BP4D: of 41, default 3)")
    p.add_argument("--frames", type=int,
                   help="frames per subject (DISFA, default 300) or coded frames per sequence "
                        "(BP4D, default 24)")
    p.add_argument("--tasks", type=int, default=8, help="BP4D: tasks per subject (T1..)")
    p.add_argument("--layout", choices=("full", "fera"), default="full",
                   help="BP4D: the full release's folders or the FERA 2015 copy's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, help="frame width (DISFA: 1024, BP4D: 1040)")
    p.add_argument("--height", type=int, help="frame height (DISFA: 768, BP4D: 1392)")
    p.add_argument("--workers", type=int, help="DISFA: subjects drawn in parallel (default: CPU count)")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("prepare", help="decode, align and index a dataset once (resumable)")
    p.add_argument("dataset", choices=("disfa", "bp4d", "frames"))
    p.add_argument("root", help="the dataset's root folder (frames: the labels CSV)")
    p.add_argument("--out", required=True, help="cache folder to write")
    p.add_argument("--workers", type=int, default=1, help="subjects prepared in parallel")
    p.add_argument("--camera", choices=("left", "right"), default="left", help="DISFA: camera")
    p.add_argument("--landmarks", help="BP4D: folder of JAA-Net 49-point lists (default: dlib)")
    p.add_argument("--folds", type=int,
                   help="frames: K subject-exclusive folds balanced by frames (default 3; "
                        "ignored when the CSV has a fold column)")
    p.add_argument("--threshold", type=int,
                   help="frames: positive = value >= threshold (default 1: 0/1 labels)")
    p.add_argument("--size", type=int, default=224, help="aligned face size in pixels")
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("train", help="train one model on one fold (the paper's protocol)")
    p.add_argument("model", help="model name or config file")
    p.add_argument("--data", required=True, help="prepared cache folder")
    p.add_argument("--fold", type=int, required=True, choices=(1, 2, 3))
    p.add_argument("--work-dir", help="where checkpoints and logs go")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --work-dir")
    p.add_argument("--seed", type=int, default=0)
    _add_train_options(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="score one checkpoint on one fold")
    p.add_argument("model", nargs="?", help="model name or config file (default: the checkpoint's own)")
    p.add_argument("--data", required=True, help="prepared cache folder")
    p.add_argument("--fold", type=int, required=True, choices=(1, 2, 3))
    p.add_argument("--weights", required=True, help="checkpoint written by auzoo train")
    p.add_argument("--device")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--out", help="also write the per-AU scores to this CSV")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("bench", help="train and score every model on every fold; write tables")
    p.add_argument("models", nargs="+", metavar="MODEL")
    p.add_argument("--data", help="prepared cache (default: a synthetic DISFA and a CPU-sized preset)")
    p.add_argument("--folds", default="1,2,3", help="comma-separated fold numbers")
    p.add_argument("--out", help="results folder (default: ./bench_out)")
    p.add_argument("--shard", help="I/N: run only every N-th cell, starting at I (1-based)")
    p.add_argument("--preset", choices=("paper", "cpu-demo"),
                   help="training schedule (default: cpu-demo without --data, else paper)")
    p.add_argument("--seed", type=int, default=0)
    _add_train_options(p)
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("predict", help="AU table for images, folders and videos")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files, video files, folders of them")
    p.add_argument("--model", help="model name or config file (default: the checkpoint's own)")
    p.add_argument("--weights", required=True, help="checkpoint written by auzoo train")
    p.add_argument("--out", help="CSV file to write (default: print)")
    p.add_argument("--batch-size", type=int, default=32, help="faces per model call")
    p.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda if available)")
    p.add_argument("--every", type=int, default=1, help="use every N-th video frame")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--detector", choices=("hog", "cnn"), default="hog",
                   help="dlib face detector: HOG (fast) or the MMOD CNN (slow on a CPU)")
    p.add_argument("--detect-every", type=int, default=10,
                   help="in videos, detect faces every N used frames and track them in between")
    p.add_argument("--detect-size", type=int, default=640,
                   help="longest side of the downscaled frame faces are detected on (0: full size)")
    p.add_argument("--face-threshold", type=float, default=0.3, help="least detector score kept")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("convert-weights",
                       help="VGGFace2 SENet-50 pickle -> state dict for the VGGFace2SENet50 backbone")
    p.add_argument("src", metavar="IN", help="senet50_ft_weight.pkl or senet50_scratch_weight.pkl")
    p.add_argument("dst", metavar="OUT", help="output .pth file")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=_cmd_convert)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        if "AUZOO_DEBUG" in __import__("os").environ:
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"auzoo {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
