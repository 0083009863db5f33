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
        for name, provs in sorted(registry.AMBIGUOUS_CONFIGS.items()):
            table.add_row(f"[red]{name}[/]", "[red]refused: ambiguous[/]",
                          "; ".join(str(p) for p in provs))
        console.print(table)
    if what in ("parts", "all"):
        for kind, entries in registry.registered_parts().items():
            table = Table(title=kind)
            table.add_column("name")
            table.add_column("provided by")
            table.add_column("defined at")
            for name, prov in entries.items():
                table.add_row(name, prov.name, prov.where)
            for name, provs in sorted(registry.PART_REGISTRIES[kind].ambiguous.items()):
                table.add_row(f"[red]{name}[/]", "[red]refused: ambiguous[/]",
                              "; ".join(str(p) for p in provs))
            console.print(table)
    if what in ("published", "all"):
        _list_published(console)
    if what in ("plugins", "all"):
        plugins = registry.load_plugins()
        table = Table(title=f"plugins (entry-point group '{registry.PLUGIN_GROUP}')")
        for col in ("name", "distribution", "version", "status", "entry point", "registered / error"):
            table.add_column(col, overflow="fold")
        for p in plugins:
            detail = p.error if p.error else ", ".join(p.registered)
            if p.conflicts:
                detail += "".join(f"\n[red]conflict:[/] {c}" for c in p.conflicts)
            style = {"loaded": "green", "failed": "red"}.get(p.status, "yellow")
            status = f"[{style}]{p.status}[/]" + (" [red](with conflicts)[/]" if p.conflicts else "")
            table.add_row(p.name, p.distribution, p.version, status, p.value, detail)
        if not plugins:
            console.print("no plugins installed")
        else:
            console.print(table)
        if registry.plugins_disabled():
            console.print(f"plugin loading is off ({registry.DISABLE_PLUGINS_ENV} is set)")
    return 0


def _list_published(console) -> None:
    from rich.table import Table

    from auzoo.report.published import methods_table, published_rows

    rows = methods_table(published_rows())
    if not rows:
        console.print("no published rows registered")
        return
    table = Table(title="published results (each set beside the auzoo models it lists)")
    columns = ("method", "dataset", "models", "avg", "aus", "table", "provided_by")
    for col in columns:
        table.add_column(col.replace("_", " "), overflow="fold",
                         justify="right" if col in ("avg", "aus") else "left")
    for row in rows:
        table.add_row(*(str(row[col]) for col in columns))
    console.print(table)
    for citation in dict.fromkeys(row["citation"] for row in rows):
        console.print(f"  {citation}")


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
    p.add_argument("--allow-random-init", action="store_true",
                   help="train a backbone with frozen stages from random weights (recorded); "
                        "without it auzoo refuses, since frozen random layers never learn")
    _add_cfg_options(p)


def _train_cfg_options(args) -> dict:
    """``--cfg-options`` plus the flags that are config keys."""
    from auzoo.engine.settings import OPTION_KEYS

    options = dict(args.cfg_options or {})
    for flag, key in OPTION_KEYS.items():
        if getattr(args, flag, None) is not None:
            options[key] = getattr(args, flag)
    if getattr(args, "compile", None):
        options["compile"] = True
    return options


def _cmd_train(args) -> int:
    from mmengine.dist import get_rank

    from auzoo.engine.records import RunSpec
    from auzoo.engine.train import distributed_session, train

    spec = RunSpec(model=args.model, data=args.data, fold=args.fold, seed=args.seed,
                   work_dir=args.work_dir, cfg_options=_train_cfg_options(args),
                   device=args.device, resume=args.resume, test_data=tuple(args.test_data or ()),
                   allow_random_init=args.allow_random_init, preset=args.preset)
    with distributed_session():
        result = train(spec)
        if get_rank() == 0:
            print_result(result)
    return 0


def _scores_table(title: str, scores, baseline: bool = True):
    from rich.table import Table

    table = Table(title=title)
    table.add_column("")
    names = list(scores.f1)
    for au in names:
        table.add_column(au, justify="right")
    table.add_column("mean", justify="right")
    table.add_row("F1", *(f"{scores.f1[a]:.1f}" for a in names), f"{scores.f1_mean:.1f}")
    table.add_row("accuracy", *(f"{scores.acc[a]:.1f}" for a in names), f"{scores.acc_mean:.1f}")
    if baseline and scores.baseline_f1:
        table.add_row("F1 always present", *(f"{scores.baseline_f1[a]:.1f}" for a in names),
                      f"{scores.baseline_f1_mean:.1f}", style="dim")
    return table


def print_result(result) -> None:
    """A run's test scores (and scores on other datasets) as rich tables."""
    from rich.console import Console

    from auzoo.engine.records import AUScores

    console = Console()
    p, t = result.provenance, result.training
    console.print(_scores_table(f"{p.model} fold {p.fold} on {p.dataset}: test subjects "
                                f"{', '.join(p.test_subjects)} ({result.scores.frames} frames)",
                                result.scores))
    for data, other in result.cross.items():
        left = other["left_out"]
        console.print(_scores_table(f"{p.model} on {other['dataset']} ({data}), every subject, "
                                    f"shared AUs; left out: model-only {left['model_only']}, "
                                    f"data-only {left['data_only']}",
                                    AUScores.from_dict(other["scores"])))
    if t is not None:
        console.print(f"best epoch {t.best_epoch} of {t.epochs} (chosen on {p.select_on}); "
                      f"backbone {p.backbone_init.get('weights', '?')}; checkpoint {t.checkpoint}")


def _cmd_eval(args) -> int:
    from rich.console import Console

    from auzoo.engine.evaluate import evaluate_checkpoint

    out = evaluate_checkpoint(args.weights, args.data, fold=args.fold, model=args.model,
                              device=args.device, batch_size=args.batch_size)
    scores, meta = out["scores"], out["meta"]
    if out["mode"] == "cross":
        left = out["left_out"]
        title = (f"{meta.get('model')} (trained on {meta.get('dataset', 'disfa')}) on "
                 f"{out['dataset']}: every subject ({scores.frames} frames), shared AUs; "
                 f"left out: model-only {left['model_only']}, data-only {left['data_only']}")
    else:
        title = (f"{meta.get('model')} fold {out['fold']} on {out['dataset']}: test subjects "
                 f"{', '.join(out['subjects'])} ({scores.frames} frames)")
    if getattr(args, "out", None):
        import pandas as pd
        from pathlib import Path
        rows = [dict(AU=au, f1=scores.f1[au], accuracy=scores.acc[au], **scores.counts[au])
                for au in scores.f1]
        rows.append(dict(AU="mean", f1=scores.f1_mean, accuracy=scores.acc_mean))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(args.out, index=False)
    Console().print(_scores_table(title, scores))
    return 0


def _cmd_bench(args) -> int:
    from auzoo.bench import bench_cli

    return bench_cli(args)


# ------------------------------------------------------------- predict / weights

def _cmd_predict(args) -> int:
    from auzoo.inference import predict_cli

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
    p.add_argument("what", nargs="?", default="models", 
                   choices=("models", "parts", "plugins", "published", "all"))
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
    p.add_argument("--fold", type=int, required=True, help="fold number of the cache's dataset")
    p.add_argument("--work-dir", help="where checkpoints and logs go")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --work-dir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-data", action="append", metavar="CACHE",
                   help="also score the chosen model on every subject of this other dataset")
    p.add_argument("--preset", help="a preset of configs/_base_/presets (e.g. cpu_demo)")
    _add_train_options(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="score one checkpoint on one fold, or on another dataset")
    p.add_argument("model", nargs="?", help="model name or config file (default: the checkpoint's own)")
    p.add_argument("--data", required=True, help="prepared cache folder")
    p.add_argument("--fold", type=int,
                   help="fold to score (default: the checkpoint's; not used on another dataset)")
    p.add_argument("--weights", required=True, help="checkpoint written by auzoo train")
    p.add_argument("--device")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--out", help="also write the per-AU scores to this CSV")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("bench", help="train and score every model on every fold (and seed, and "
                                     "dataset); write tables beside the published ones")
    from auzoo.bench.cli import add_arguments as add_bench_arguments

    add_bench_arguments(p)
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
    p.add_argument("--workers", type=int,
                   help="face-finding worker processes (default: every core but one beside a GPU; "
                        "the cores the model's threads leave free on a CPU)")
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
