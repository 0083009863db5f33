"""Every key of a config is one that something reads: a typo is an error that
names the key, the file it came from and the nearest valid key.

* Top level: the keys mmengine's Runner reads (its constructor's arguments,
  ``custom_imports``) and auzoo's own (:data:`AUZOO_KEYS`). A file's helper
  variables start with ``_`` (``_lr = 0.01``) and are left alone.
* A part, ``dict(type=NAME, ...)`` anywhere (model, loss, sampler, hooks,
  metrics, optimizer, transforms): its constructor's arguments, found in
  auzoo's registries, then mmengine's. A constructor that takes ``**kwargs``
  takes any key.
* Plain sections: the keys listed in :data:`SECTIONS`, and a part's own
  (``RegionAUNet.config_sections``: each branch's keys).

A key a plugin's config adds at the top level is declared with
:func:`register_config_key`.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

AUZOO_KEYS: Dict[str, str] = {
    "model": "the model: dict(type=..., parts ...)",
    "loss": "the training loss: dict(type=...)",
    "data": "dataset options: bad_frames, threshold",
    "img_size": "input size of the model",
    "select_on": "'test' (the paper) or 'val'",
    "val_subjects": "training subjects held out by select_on='val'",
    "precision": "train / eval: 'fp32', 'bf16' or 'fp16' (on a GPU)",
    "channels_last": "channels-last memory on a GPU",
    "compile": "torch.compile the model (True or its options)",
    "init_from": "the run whose weights start this one: a first stage (config, keys) or "
                 "another run (source, transfer, checkpoint, source_data)",
    "keep_epochs": "epochs whose weights are kept as WORK_DIR/weights/epoch_N.pth",
    "allow_random_init": "train frozen stages without a weight file",
    "demo": "what the cpu_demo preset changes for this model (dotted keys)",
    "published": "the published row this model is set beside",
    "task": "what the model predicts: 'occurrence', 'intensity' or 'both'",
    "select_by": "the validation score the best epoch goes by (f1_mean, icc_mean …)",
    "train_pipeline": "data transforms while training",
    "test_pipeline": "data transforms while scoring and predicting",
    "sync_bn": "mmengine: convert BatchNorm to SyncBatchNorm under DDP",
    "find_unused_parameters": "DDP: parameters without a gradient in a step",
    "name": "the model's name (set by auzoo)",
    "applied": "what a preset changed (set by auzoo)",
}

# Plain (untyped) sections and the keys read from them.
SECTIONS: Dict[str, Sequence[str]] = {
    "data": ("bad_frames", "threshold"),
    "precision": ("train", "eval"),
    "init_from": ("config", "keys", "datasets", "source", "transfer", "checkpoint",
                  "source_data", "scratch"),
    "train_dataloader": ("batch_size", "num_workers", "sampler"),
    "val_dataloader": ("batch_size", "num_workers"),
    "randomness": ("seed", "deterministic", "diff_rank_seed"),
    "env_cfg": ("cudnn_benchmark", "mp_cfg", "dist_cfg", "resource_limit"),
    "train_cfg": ("type", "by_epoch", "max_epochs", "max_iters", "val_begin", "val_interval",
                  "dynamic_intervals"),
    "val_cfg": ("type", "fp16"),
    "test_cfg": ("type", "fp16"),
}
# Keys a typed section takes besides its class's arguments.
_TYPED_EXTRAS = {"optim_wrapper": ("constructor", "paramwise_cfg")}
_ALWAYS = ("type", "_delete_", "_scope_")


class ConfigKeyError(KeyError):
    """A key nothing reads; the message names the key, its file and the nearest valid key."""

    def __str__(self) -> str:
        return str(self.args[0])


def register_config_key(name: str, doc: str) -> None:
    """Let configs carry a top-level key ``name`` (a plugin's own setting)."""
    AUZOO_KEYS.setdefault(name, doc)


def mmengine_keys() -> set:
    from mmengine.runner import Runner

    params = inspect.signature(Runner.__init__).parameters
    return {p for p in params if p not in ("self", "cfg")} | {"custom_imports"}


def known_top_level() -> List[str]:
    return sorted(set(AUZOO_KEYS) | mmengine_keys())


# --------------------------------------------------------------------------
# classes behind type names, and the keys they take
# --------------------------------------------------------------------------

def _registries() -> list:
    import mmengine.registry as mm

    from auzoo import registry

    regs = list(registry.PART_REGISTRIES.values())
    if hasattr(registry, "TRANSFORMS"):
        regs.append(registry.TRANSFORMS)
    for name in ("OPTIM_WRAPPERS", "OPTIMIZERS", "PARAM_SCHEDULERS", "HOOKS", "METRICS", "LOOPS",
                 "DATA_SAMPLERS", "TRANSFORMS", "MODELS", "MODEL_WRAPPERS"):
        reg = getattr(mm, name)
        regs += [reg, *reg.children.values()]
    return regs


def _classes(name: str) -> list:
    import mmengine.optim  # noqa: F401  (registers torch's optimizers and mmengine's schedulers)
    import mmengine.runner  # noqa: F401  (loops)

    found = []
    for reg in _registries():
        obj = reg.module_dict.get(name)
        if obj is not None and obj not in found:
            found.append(obj)
    return found


def _accepted(obj) -> Optional[set]:
    """The keyword arguments ``obj`` takes; None: any (``**kwargs``)."""
    try:
        params = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    keys = {n for n, p in params.items() if p.kind is not p.VAR_POSITIONAL and n != "self"}
    from mmengine.hooks import Hook
    if inspect.isclass(obj) and issubclass(obj, Hook):
        keys.add("priority")  # read by Runner.register_hook
    return keys


# --------------------------------------------------------------------------
# the walk
# --------------------------------------------------------------------------

class _Checker:
    def __init__(self, locate, renamed=None):
        self.locate = locate
        self.renamed = renamed or (lambda dotted: None)

    def fail(self, path: List[str], valid: Iterable[str], what: str) -> None:
        key = path[-1]
        moved = self.renamed(".".join(path))
        if moved is not None:
            raise ConfigKeyError(f"`{'.'.join(path)}` in {self.locate(path)} is from an earlier "
                                 f"config schema; it is now {moved}")
        close = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=0.6)
        hint = f"; did you mean `{close[0]}`?" if close else \
            f" (valid keys: {', '.join(sorted(valid)) or 'none'})"
        dotted = ".".join(path)
        raise ConfigKeyError(f"`{dotted}` in {self.locate(path)} is not a key of {what}{hint}")

    def value(self, value: Any, path: List[str]) -> None:
        if isinstance(value, Mapping):
            if isinstance(value.get("type"), str):
                self.typed(value, path)
            else:
                for key, sub in value.items():
                    self.value(sub, path + [str(key)])
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                self.value(item, path + [str(i)])

    def typed(self, section: Mapping, path: List[str]) -> None:
        classes = _classes(section["type"])
        accepted: Optional[set] = set() if classes else None
        nested: Dict[str, Sequence[str]] = {}
        for cls in classes:
            keys = _accepted(cls)
            accepted = None if keys is None or accepted is None else accepted | keys
            nested.update(getattr(cls, "config_sections", {}) or {})
        extras = set(_ALWAYS) | set(_TYPED_EXTRAS.get(".".join(path), ()))
        for key, sub in section.items():
            if key in extras:
                continue
            if accepted is not None and key not in accepted:
                self.fail(path + [key], accepted - {"type"}, str(section["type"]))
            if key in nested:
                self.plain_items(sub, path + [key], nested[key], f"{section['type']}'s {key}")
            else:
                self.value(sub, path + [key])

    def plain_items(self, value: Any, path: List[str], keys: Sequence[str], what: str) -> None:
        items = value if isinstance(value, (list, tuple)) else [value]
        for i, item in enumerate(items):
            where = path + [str(i)] if isinstance(value, (list, tuple)) else path
            if isinstance(item, Mapping) and not isinstance(item.get("type"), str):
                self.plain(item, where, keys, what)
            else:
                self.value(item, where)

    def plain(self, section: Mapping, path: List[str], keys: Sequence[str], what: str) -> None:
        for key, sub in section.items():
            if key not in keys and key not in _ALWAYS:
                self.fail(path + [str(key)], keys, what)
            if key == "sampler" and isinstance(sub, Mapping) and "type" not in sub:
                self.typed(dict(sub, type="AUWeightedBatchSampler"), path + [key])  # the default
            else:
                self.value(sub, path + [str(key)])


def check_config(cfg, locate=None, model_only: bool = False, renamed=None) -> None:
    """Refuse any key of ``cfg`` that nothing reads (:class:`ConfigKeyError`).

    ``locate(path)`` says where the dotted ``path`` came from (default:
    :func:`key_locator` over the config's files); ``renamed(dotted)`` names
    the new place of a key that moved (None: it did not)."""
    from auzoo import registry

    registry.ensure_loaded()
    if locate is None:
        from auzoo.config_source import key_locator
        locate = key_locator(cfg)
    checker = _Checker(locate, renamed)
    if model_only:
        if isinstance(cfg.get("model"), Mapping):
            checker.value(cfg["model"], ["model"])
        return
    known = known_top_level()
    for key, value in cfg.items():
        if key.startswith("_"):
            continue
        if key not in known:
            checker.fail([key], known, "a config (neither auzoo nor mmengine reads it; a "
                                       "config file's helper variables start with `_`)")
        if key == "demo" or value is None:
            continue  # dotted keys, checked once merged
        if key in SECTIONS and isinstance(value, Mapping) and "type" not in value:
            checker.plain(value, [key], SECTIONS[key], f"`{key}`")
        else:
            checker.value(value, [key])
