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

from typing import Any, Dict, Mapping, Optional

from mmengine.config import Config

# Command-line options and the config keys they set.
OPTION_KEYS = {
    "max_epochs": "train_cfg.max_epochs",
    "iters_per_epoch": "train_dataloader.sampler.iters_per_epoch",
    "batch_size": "train_dataloader.batch_size",
    "img_size": "img_size",
    "select_on": "select_on",
}

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
    unknown = set(options) - set(OPTION_KEYS)
    if unknown:
        raise TypeError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    _merge(cfg, {OPTION_KEYS[k]: v for k, v in options.items() if v is not None}, "options")
    check_keys(cfg, cfg_options, preset)
    if cfg.get("select_on", "test") not in ("test", "val"):
        raise ValueError(f"select_on must be 'test' or 'val', not {cfg.select_on!r}")
    cfg.applied = applied
    return cfg


def check_keys(cfg: Config, cfg_options: Optional[Mapping[str, Any]] = None,
               preset: Optional[str] = None) -> None:
    """Refuse keys nothing reads, naming the file (or ``--cfg-options``) they came from."""
    from auzoo.config import config_path
    from auzoo.config_check import check_config, key_locator

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
