"""The ``auzoo`` command. Each subcommand's options are declared here; the work
is done by the module that owns it (imported only when the command runs, so
``auzoo list`` stays quick)."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional


from auzoo.cli.commands import (_cmd_bench, _cmd_browse, _cmd_convert, _cmd_eval,  # noqa: F401
                                _cmd_export, _cmd_list, _cmd_predict, _cmd_prepare, _cmd_show,
                                _cmd_synth, _cmd_train, print_result)
from auzoo.cli.help import command
from auzoo.cli.options import (_add_cfg_options, _add_train_options, _train_cfg_options,  # noqa: F401
                               add_config_flags, add_preset_option)


def build_parser() -> argparse.ArgumentParser:
    from auzoo import __version__

    parser = argparse.ArgumentParser(
        prog="auzoo", description="A pluggable model zoo for facial action unit detection.",
        epilog="auzoo COMMAND --help: what a command does, its options and their defaults, "
               "and an example.")
    parser.add_argument("--version", action="version", version=f"auzoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = command(sub, "list", "what is registered, and where it came from")
    p.add_argument("what", nargs="?", default="models",
                   choices=("models", "parts", "plugins", "published", "all"),
                   help="models: model configs and who provides them; parts: backbones, necks, "
                        "splitters, attention, heads, losses, samplers, metrics, hooks; plugins: "
                        "installed plugins and what they registered; published: published result "
                        "rows and the models they sit beside; all: everything")
    p.set_defaults(func=_cmd_list)

    p = command(sub, "show", "resolved config, parameter count and GFLOPs of a model")
    p.add_argument("model", help="model name or config file")
    add_config_flags(p, "show")
    _add_cfg_options(p)
    p.set_defaults(func=_cmd_show)

    p = command(sub, "synth", "write a synthetic dataset in a real dataset's layout")
    p.add_argument("dataset", help="the layout to write: disfa, bp4d or a plugin's dataset")
    p.add_argument("out", help="output folder (the dataset root)")
    p.add_argument("--subjects", type=int,
                   help="how many subject ids (DISFA: of 27, default 27; BP4D: of 41, default 3)")
    p.add_argument("--frames", type=int,
                   help="frames per subject (DISFA, default 300) or coded frames per sequence "
                        "(BP4D, default 24)")
    p.add_argument("--tasks", type=int, default=8, help="BP4D: tasks per subject (T1..)")
    p.add_argument("--layout", choices=("full", "fera"), default="full",
                   help="BP4D: the full release's folders or the FERA 2015 copy's")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the drawn identities and AU episodes (same seed, same files)")
    p.add_argument("--width", type=int, help="frame width (DISFA: 1024, BP4D: 1040)")
    p.add_argument("--height", type=int, help="frame height (DISFA: 768, BP4D: 1392)")
    p.add_argument("--workers", type=int, help="DISFA: subjects drawn in parallel (default: CPU count)")
    p.set_defaults(func=_cmd_synth)

    p = command(sub, "prepare", "decode, align and index a dataset once (resumable)")
    p.add_argument("dataset",
                   help="disfa or bp4d: a copy of the dataset as released; frames: your own "
                        "labelled images and videos, listed in a labels CSV (docs/data.md); "
                        "any other registered dataset (a plugin's)")
    p.add_argument("root", metavar="ROOT|LABELS.csv",
                   help="the dataset's root folder (frames: the labels CSV)")
    p.add_argument("--out", required=True, help="cache folder to write")
    p.add_argument("--workers", type=int, default=1, help="subjects prepared in parallel")
    p.add_argument("--camera", choices=("left", "right"), default="left", help="DISFA: camera")
    p.add_argument("--landmarks", help="BP4D: folder of JAA-Net 49-point lists (default: dlib)")
    p.add_argument("--folds", type=int,
                   help="frames: K subject-exclusive folds balanced by frames (default 3; "
                        "ignored when the CSV has a fold column)")
    p.add_argument("--threshold", type=int,
                   help="frames: positive = value >= threshold (default 1: 0/1 labels)")
    p.add_argument("--size", type=int, default=320,
                   help="side of the loose face crop the cache keeps, in pixels (each model's "
                        "recipe aligns from it; 320 keeps ~68 px between the eyes)")
    p.set_defaults(func=_cmd_prepare)

    p = command(sub, "train", "train one model on one fold (the paper's protocol)")
    p.add_argument("model", help="model name or config file")
    p.add_argument("--data", required=True, help="prepared cache folder")
    p.add_argument("--fold", type=int, required=True, help="fold number of the cache's dataset")
    p.add_argument("--work-dir", help="where checkpoints and logs go")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run in --work-dir (the default: a run found "
                        "there resumes if its settings are the same, a finished one is shown)")
    p.add_argument("--force", action="store_true",
                   help="discard the run found in --work-dir and train from the start")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the weights, the batches drawn and the augmentation")
    p.add_argument("--test-data", action="append", metavar="CACHE",
                   help="also score the chosen model on every subject of this other dataset")
    add_preset_option(p, "the config's own schedule")
    _add_train_options(p)
    p.set_defaults(func=_cmd_train)

    p = command(sub, "eval", "score one checkpoint on one fold, or on another dataset")
    p.add_argument("model", nargs="?", help="model name or config file (default: the checkpoint's "
                                            "own; needed for a published model's official weights)")
    p.add_argument("--data", required=True, help="prepared cache folder")
    p.add_argument("--fold", type=int,
                   help="fold to score (default: the checkpoint's; not used on another dataset)")
    p.add_argument("--weights", required=True, nargs="+", metavar="WEIGHTS",
                   help="checkpoint written by auzoo train, or with MODEL named the official "
                        "weights of that model (a file, a folder or several files)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda if available)")
    p.add_argument("--batch-size", type=int, default=128, help="frames per model call")
    p.add_argument("--out", help="also write the per-AU scores to this CSV (and what was "
                                 "scored to OUT.json)")
    _add_cfg_options(p)
    p.set_defaults(func=_cmd_eval)

    p = command(sub, "bench", "train and score every model on every fold (and seed, and "
                                     "dataset); write tables beside the published ones")
    from auzoo.bench.cli import add_arguments as add_bench_arguments

    add_bench_arguments(p)
    _add_train_options(p, "bench")
    p.set_defaults(func=_cmd_bench)

    p = command(sub, "predict", "AU table for images, folders and videos")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files, video files, folders of them")
    p.add_argument("--model", help="model name or config file (default: the checkpoint's own; "
                                   "needed for a published model's official weights)")
    p.add_argument("--weights", required=True, nargs="+", metavar="WEIGHTS",
                   help="checkpoint written by auzoo train, or with --model the official weights "
                        "of that model (a file, a folder or several files), or an .onnx file "
                        "written by auzoo export (run by onnxruntime; no --model)")
    p.add_argument("--out", help="CSV file to write (default: print)")
    p.add_argument("--batch-size", type=int, default=32, help="faces per model call")
    p.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda if available)")
    p.add_argument("--every", type=int, default=1, help="use every N-th video frame")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--format", choices=("auzoo", "openface"), default="auzoo",
                   help="auzoo: file, frame from 0, the face box, the detector's score, "
                        "AUxx_prob and AUxx_c; openface: OpenFace 2.x's columns, order and "
                        "conventions (frame from 1, confidence 0-1, AUxx_r where the model has "
                        "intensities, AUxx_c), see docs/predict.md")
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
    _add_cfg_options(p)
    p.set_defaults(func=_cmd_predict)

    p = command(sub, "browse", "write a model's inputs as its pipeline makes them, "
                               "with samples.json (frame, size, landmarks, steps)")
    p.add_argument("model", help="model name or config file")
    p.add_argument("--data", required=True, help="prepared cache")
    p.add_argument("--split", choices=("train", "test"), default="test",
                   help="the fold's training frames through the training pipeline, or its test "
                        "frames through the test pipeline (default: test)")
    p.add_argument("--fold", type=int, default=1, help="the fold whose subjects to draw from "
                                                       "(default: 1)")
    p.add_argument("--n", type=int, default=16, help="how many images (default: 16)")
    p.add_argument("--seed", type=int, default=0, help="which frames and random steps (default: 0)")
    p.add_argument("--out", required=True, help="folder for the images and samples.json")
    _add_cfg_options(p)
    p.set_defaults(func=_cmd_browse)

    p = command(sub, "export", "a checkpoint as an ONNX file (dynamic batch) whose "
                               "metadata carries what auzoo predict needs")
    p.add_argument("model", nargs="?", help="model name or config file (default: the checkpoint's "
                                            "own; needed for a published model's official weights)")
    p.add_argument("--weights", required=True, nargs="+", metavar="WEIGHTS",
                   help="checkpoint written by auzoo train, or with MODEL named the official "
                        "weights of that model (a file, a folder or several files)")
    p.add_argument("--out", required=True, help="ONNX file to write (FILE.onnx)")
    from auzoo.export.metadata import DEFAULT_OPSET

    p.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                   help=f"ONNX opset of the default domain (default {DEFAULT_OPSET})")
    p.add_argument("--img-size", type=int,
                   help="input side in pixels (default: the checkpoint's image size)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    _add_cfg_options(p)
    p.set_defaults(func=_cmd_export)

    p = command(sub, "convert-weights",
                "VGGFace2 SENet-50 pickle -> state dict for the VGGFace2SENet50 backbone")
    p.add_argument("src", metavar="IN", help="senet50_ft_weight.pkl or senet50_scratch_weight.pkl")
    p.add_argument("dst", metavar="OUT", help="output .pth file")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=_cmd_convert)
    return parser


# What a command interrupted by Ctrl-C keeps, said in one line.
_RESUME_HINTS = {
    "train": "run the same command again to resume after the last finished epoch "
             "(--force starts over)",
    "bench": "run the same command again: finished cells are kept and the interrupted one resumes",
    "prepare": "run the same command again to resume: prepared subjects are kept",
}


def interrupted_message(args) -> str:
    hint = _RESUME_HINTS.get(args.command)
    if args.command == "predict" and getattr(args, "out", None):
        hint = f"run the same command again to resume: finished files are kept in {args.out}.partial"
    return f"auzoo {args.command}: interrupted" + (f"; {hint}" if hint else "")


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if "AUZOO_DEBUG" in __import__("os").environ:
            raise
        print(f"\n{interrupted_message(args)}", file=sys.stderr)
        return 130
    except (FileNotFoundError, KeyError, ValueError) as exc:
        if "AUZOO_DEBUG" in __import__("os").environ:
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"auzoo {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
