"""Options that several subcommands share, and the flags that are config keys."""
from __future__ import annotations

import argparse

from mmengine.config import DictAction


def _add_cfg_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                   metavar="KEY=VALUE",
                   help="override config entries (mmengine's schema, dotted keys; a key nothing reads "
                        "is refused), e.g. train_cfg.max_epochs=5 custom_hooks.0.patience=3")


def _preset_spelling(name: str) -> str:
    return name.strip().replace("-", "_")  # `cpu-demo` is read as `cpu_demo`


def add_preset_option(p: argparse.ArgumentParser, default_text: str) -> None:
    """``--preset``, the same names for train and bench (``-`` read as ``_``)."""
    from auzoo.engine.settings import PRESETS

    p.add_argument("--preset", type=_preset_spelling, choices=tuple(PRESETS), metavar="PRESET",
                   help=f"training schedule: {' or '.join(PRESETS)} "
                        f"(auzoo/configs/_base_/presets/; default: {default_text})")


def _add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-epochs", type=int, help="stop after this many epochs at most (default: the config's "
                        "train_cfg.max_epochs)")
    p.add_argument("--iters-per-epoch", type=int, help="batches per epoch (default: the config's; the paper: 100)")
    p.add_argument("--batch-size", type=int, help="batch size (default: the config's; the paper: 64)")
    p.add_argument("--img-size", type=int, help="input size; the cache is resized if it differs (default: the "
                        "config's img_size)")
    p.add_argument("--select-on", choices=("test", "val"),
                   help="choose the epoch on the test fold (the paper) or on held-out training subjects "
                        "(default: the config's select_on)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda if available)")
    p.add_argument("--compile", action="store_const", const=True, default=None,
                   help="torch.compile the training step (worth it on a GPU for long runs)")
    p.add_argument("--allow-random-init", action="store_true",
                   help="train a backbone with frozen stages from random weights (recorded); "
                        "without it auzoo refuses, since frozen random layers never learn")
    _add_cfg_options(p)


def refuse_existing(path, force: bool) -> None:
    """An output file that exists needs ``--force`` (said in the CLI's words)."""
    from pathlib import Path

    if path and Path(path).exists() and not force:
        raise ValueError(f"{path} exists; pass --force to replace it")


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
