"""A run's config: the model's config, a preset, the model's demo entry,
``--cfg-options`` and command-line flags, merged in that order and checked.

Configs use mmengine's schema (``optim_wrapper``, ``param_scheduler``,
``train_cfg``, ``train_dataloader``, ``default_hooks``, ``custom_hooks``,
``randomness``, ``env_cfg`` …) plus auzoo's keys where mmengine has none
(``data``, ``loss``, ``select_on``, ``precision``,
``init_from``, ``keep_epochs``, ``allow_random_init``). Keys of auzoo's first config schema
fail with a message that names their new place.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from mmengine.config import Config

from auzoo.engine.input_size import propagate_img_size


@dataclass(frozen=True)
class ConfigFlag:
    """A command-line flag that is sugar for ``--cfg-options KEY=VALUE``: the
    commands add it from here and put its value in the config under ``key``."""

    dest: str                          # the flag is --dest-with-dashes
    key: str                           # the config key it sets
    help: str
    type: Optional[Callable[[str], Any]] = None
    choices: Optional[Tuple[str, ...]] = None
    switch: bool = False               # a flag without value: KEY=True
    commands: Tuple[str, ...] = ("train", "bench")
    training: bool = True              # only training reads it (refused when weights are scored)

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")


# The one table of flags that are config keys (train, bench local, shards,
# Slurm and torchrun, show): each command adds its flags from here.
CONFIG_FLAGS = (
    ConfigFlag("max_epochs", "train_cfg.max_epochs", "stop after this many epochs at most "
               "(default: the config's train_cfg.max_epochs)", type=int),
    ConfigFlag("iters_per_epoch", "train_dataloader.sampler.iters_per_epoch",
               "batches per epoch (default: the config's; the paper: 100)", type=int),
    ConfigFlag("batch_size", "train_dataloader.batch_size",
               "batch size (default: the config's; the paper: 64)", type=int),
    ConfigFlag("img_size", "img_size", "input side in pixels; the faces are resized to it and "
               "every part of the model built for an input size gets it (default: the config's "
               "img_size)", type=int, commands=("train", "bench", "show"), training=False),
    ConfigFlag("select_on", "select_on", "choose the epoch on the test fold (the paper) or on "
               "held-out training subjects (default: the config's select_on)",
               choices=("test", "val")),
    ConfigFlag("compile", "compile", "torch.compile the training step (worth it on a GPU for "
               "long runs)", switch=True),
    ConfigFlag("allow_random_init", "allow_random_init", "train a backbone with frozen stages "
               "from random weights (recorded); without it auzoo refuses, since frozen random "
               "layers never learn", switch=True),
)
OPTION_KEYS = {f.dest: f.key for f in CONFIG_FLAGS}


def flag_options(values: Mapping[str, Any]) -> Dict[str, Any]:
    """The config keys of flag values (``dest -> value``; None or an unset
    switch: not given), e.g. ``{'max_epochs': 5}`` -> ``{'train_cfg.max_epochs': 5}``."""
    unknown = set(values) - set(OPTION_KEYS)
    if unknown:
        raise TypeError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    return {OPTION_KEYS[k]: v for k, v in values.items() if v is not None and v is not False}


def with_flags(cfg_options: Optional[Mapping[str, Any]], values: Mapping[str, Any]) -> Dict[str, Any]:
    """``--cfg-options`` and the flags given, the flags last (as typed after them)."""
    return {**dict(cfg_options or {}), **flag_options(values)}


# Keys of the first schema -> where they live now.
RENAMED = {
    "train.optimizer": "optim_wrapper.optimizer",
    "train.max_epochs": "train_cfg.max_epochs",
    "train.batch_size": "train_dataloader.batch_size",
    "train.iters_per_epoch": "train_dataloader.sampler.iters_per_epoch",
    "train.patience": "custom_hooks (ResumableEarlyStopping's patience)",
    "train.min_delta": "custom_hooks (ResumableEarlyStopping's min_delta)",
    "train.select_on": "select_on",
    "train.val_subjects": "val_subjects",
    "train.eval_batch_size": "val_dataloader.batch_size",
    "train.amp": "precision.train ('bf16' or 'fp32')",
    "train.channels_last": "channels_last",
    "train.compile": "compile",
    "train.num_workers": "train_dataloader.num_workers",
    "train.deterministic": "randomness.deterministic",
    "train.log_interval": "default_hooks.logger.interval",
    "train.custom_hooks": "custom_hooks",
    "train.keep_resume_checkpoints": "(gone: only the latest resume checkpoint is kept)",
    "data.protocol": "(gone: the dataset comes from the prepared cache)",
    "data.hflip": "train_pipeline (a RandomFlip step; remove it for no flips)",
    "early_stopping": "custom_hooks = [dict(type='ResumableEarlyStopping', patience=…, begin=…)]",
}

PRESET_DIR = "_base_/presets"
# --preset NAME -> the piece of configs/_base_/presets/ it merges (None: the
# model config's own schedule, i.e. the paper's). Names are written with '_',
# like model names; '-' is read as '_' everywhere (`cpu-demo` = `cpu_demo`).
PRESETS = {"paper": None, "cpu_demo": "cpu_demo"}
REQUIRED = ("model", "optim_wrapper", "train_cfg", "train_dataloader", "val_dataloader", "loss")


def preset_name(name: str) -> str:
    """The canonical spelling of a preset name (``cpu-demo`` -> ``cpu_demo``);
    an unknown name is an error that lists the presets."""
    canonical = str(name).strip().replace("-", "_")
    if canonical not in PRESETS:
        import difflib

        close = difflib.get_close_matches(canonical, list(PRESETS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"--preset {name!r} is not a preset{hint} Presets: {', '.join(PRESETS)}")
    return canonical


def preset_piece(preset: Optional[str]) -> Optional[str]:
    """The config piece a preset merges (None for 'paper' or no preset)."""
    return None if preset is None else PRESETS[preset_name(preset)]


def _renamed(key: str) -> Optional[str]:
    for old, new in RENAMED.items():
        if key == old or key.startswith(old + "."):
            return new
    if key == "train" or key.startswith("train."):
        return "the mmengine-schema keys (optim_wrapper, train_cfg, train_dataloader …)"
    return None


def _check_keys(options: Mapping[str, Any], where: str) -> None:
    for key in options:
        new = _renamed(key)
        if new is not None:
            raise KeyError(f"{where}: '{key}' is from auzoo's first config schema; it is now "
                           f"{new}. See docs/training.md, 'Config keys'.")


def _merge(cfg: Config, options: Mapping[str, Any], where: str) -> None:
    options = dict(options)
    _check_keys(options, where)
    # `compile.mode=…` onto `compile = False` would be a dict merged into a bool
    if any(k.startswith("compile.") for k in options) and not isinstance(cfg.get("compile"), Mapping):
        cfg.compile = {}
    try:
        cfg.merge_from_dict(options)
    except (TypeError, KeyError) as exc:
        raise ValueError(f"{where}: cannot apply {options}: {exc}") from exc


def apply_preset(cfg: Config, preset: str) -> Dict[str, Any]:
    """Merge ``configs/_base_/presets/PRESET.py`` and the model's ``demo`` entry.

    A preset that trains from random weights (the demo) unfreezes the
    backbone's frozen stages: frozen random layers are never what a demo
    means. Returns what was applied, for the run's record."""
    from auzoo.config import config_path

    piece_name = preset_piece(preset)
    if piece_name is None:
        return {}
    preset = piece_name
    piece = Config.fromfile(str(config_path(f"{PRESET_DIR}/{piece_name}.py")))
    cfg.merge_from_dict(piece.to_dict())
    applied: Dict[str, Any] = {"preset": preset}
    demo = dict(cfg.get("demo") or {})
    if demo and preset == "cpu_demo":
        _merge(cfg, demo, f"the 'demo' entry of {cfg.get('name', 'the config')}")
        applied["demo"] = demo
    if preset == "cpu_demo":
        cfg.allow_random_init = True
        backbone = cfg.model.get("backbone")
        if isinstance(backbone, Mapping) and backbone.get("frozen_stages"):
            cfg.model.backbone.frozen_stages = 0
            applied["unfrozen"] = "model.backbone.frozen_stages=0 (random weights)"
    return applied


def resolve_config(model, cfg_options: Optional[Mapping[str, Any]] = None,
                   preset: Optional[str] = None, **options: Any) -> Config:
    """The run's config; ``cfg.name`` is the model's name, ``cfg.applied`` what
    the preset changed."""
    from auzoo import registry
    from auzoo.config import load_config, model_name

    registry.ensure_loaded()
    cfg = load_config(model)
    name = model_name(cfg)
    if "train" in cfg:
        raise KeyError(f"config of '{name}' has a 'train' section, from auzoo's first config "
                       "schema: its entries are now mmengine's optim_wrapper, train_cfg, "
                       "train_dataloader and auzoo's select_on (early stopping: custom_hooks) "
                       "(docs/training.md, 'Config keys')")
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise KeyError(f"config of '{name}' has no {', '.join(missing)}: model configs inherit "
                       "auzoo::_base_/default_runtime.py, auzoo::_base_/data/au_frames.py and "
                       "auzoo::_base_/schedules/paper.py")
    cfg.name = name
    applied = apply_preset(cfg, preset) if preset else {}
    if cfg_options:
        _merge(cfg, cfg_options, "--cfg-options")
    flags = flag_options(options)
    if flags:
        _merge(cfg, flags, "options")
    propagate_img_size(cfg, [(f"the 'demo' entry of {name}", applied.get("demo") or {}),
                             ("--cfg-options", cfg_options or {}), ("options", flags)])
    check_keys(cfg, cfg_options, preset)
    if cfg.get("select_on", "test") not in ("test", "val"):
        raise ValueError(f"select_on must be 'test' or 'val', not {cfg.select_on!r}")
    cfg.applied = applied
    return cfg


def check_keys(cfg: Config, cfg_options: Optional[Mapping[str, Any]] = None,
               preset: Optional[str] = None) -> None:
    """Refuse keys nothing reads, naming the file (or ``--cfg-options``) they came from."""
    from auzoo.config import config_path
    from auzoo.config_check import check_config
    from auzoo.config_source import key_locator

    piece = preset_piece(preset)
    extra = [config_path(f"{PRESET_DIR}/{piece}.py")] if piece else []
    check_config(cfg, key_locator(cfg, cfg_options, extra_files=extra), renamed=_renamed)


def _optional_int(value) -> Optional[int]:
    return None if value is None else int(value)


def _early_stopping(cfg: Config) -> Dict[str, Any]:
    from auzoo.engine.runner import early_stopping_hook
    return {k: v for k, v in (early_stopping_hook(cfg) or {}).items() if k != "type"}


def schedule_record(cfg: Config) -> Dict[str, Any]:
    """What the run's schedule was, for its result record."""
    return dict(optim_wrapper=cfg.optim_wrapper.to_dict() if hasattr(cfg.optim_wrapper, "to_dict")
                else dict(cfg.optim_wrapper),
                param_scheduler=[dict(s) for s in cfg.get("param_scheduler") or []],
                train_cfg=dict(cfg.train_cfg), batch_size=int(cfg.train_dataloader.batch_size),
                iters_per_epoch=_optional_int(cfg.train_dataloader.sampler.get("iters_per_epoch", 100)),
                sampler=dict(cfg.train_dataloader.sampler), early_stopping=_early_stopping(cfg),
                loss=dict(cfg.loss), select_on=cfg.get("select_on", "test"),
                img_size=int(cfg.get("img_size", 224)), data=dict(cfg.get("data") or {}),
                applied=dict(cfg.get("applied") or {}))
