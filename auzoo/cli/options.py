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


def add_config_flags(p: argparse.ArgumentParser, command: str) -> None:
    """The flags of ``command`` that are config keys, from the one table
    (:data:`auzoo.engine.settings.CONFIG_FLAGS`)."""
    from auzoo.engine.settings import CONFIG_FLAGS

    for f in CONFIG_FLAGS:
        if command not in f.commands:
            continue
        help_text = f"{f.help} [config key {f.key}]"
        if f.switch:
            p.add_argument(f.flag, dest=f.dest, action="store_const", const=True, default=None,
                           help=help_text)
        else:
            p.add_argument(f.flag, dest=f.dest, type=f.type, choices=f.choices, help=help_text)


def _add_train_options(p: argparse.ArgumentParser, command: str = "train") -> None:
    add_config_flags(p, command)
    p.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda if available)")
    _add_cfg_options(p)


def refuse_existing(path, force: bool) -> None:
    """An output file that exists needs ``--force`` (said in the CLI's words)."""
    from pathlib import Path

    if path and Path(path).exists() and not force:
        raise ValueError(f"{path} exists; pass --force to replace it")


def config_flag_values(args) -> dict:
    """The values of the config-key flags ``args`` has (``dest -> value``)."""
    from auzoo.engine.settings import CONFIG_FLAGS

    return {f.dest: getattr(args, f.dest) for f in CONFIG_FLAGS if hasattr(args, f.dest)}


def _train_cfg_options(args) -> dict:
    """``--cfg-options`` plus the flags that are config keys (a flag is sugar
    for ``--cfg-options KEY=VALUE``; given both, the flag wins)."""
    from auzoo.engine.settings import with_flags

    return with_flags(getattr(args, "cfg_options", None), config_flag_values(args))
