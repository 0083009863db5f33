"""The registries of auzoo's parts and the config catalogue.

Every part a model is made of is registered under a short name in one of the
registries below, and configs refer to parts by those names only: the
registries are the single coupling between parts. ``MODELS`` is a child of
mmengine's root model registry (scope ``auzoo``) so that mmengine can build
auzoo models by name; the part registries stand alone. mmengine refuses two
children with the same scope under one parent, so only ``MODELS`` has one.

Third-party packages add parts through the ``auzoo.plugins`` entry-point group:
each entry point names a module (importing it registers its parts) or a
callable (called once, without arguments). ``AUZOO_NO_PLUGINS=1`` turns plugin
loading off. Loading, and what happens when two providers claim one name, is in
:mod:`auzoo.plugin_loader`.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

PLUGIN_GROUP = "auzoo.plugins"
DISABLE_PLUGINS_ENV = "AUZOO_NO_PLUGINS"

BUILTIN = "auzoo (built-in)"

# Who is registering right now: auzoo itself, or the plugin being loaded.
_current_provider: str = BUILTIN
# True while plugins load: a name clash is then recorded, not raised.
_loading_plugin: bool = False


class RegistryConflictError(KeyError):
    """A name registered twice; the message names both providers."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


def current_provider() -> str:
    """Who is registering right now: auzoo itself, or the plugin being loaded."""
    return _current_provider


def caller_location(depth: int = 2) -> str:
    """file:line of the code ``depth`` frames up (for data registered by a call)."""
    frame = inspect.stack()[depth]
    return f"{frame.filename}:{frame.lineno}"


def _where(obj) -> str:
    try:
        path = inspect.getsourcefile(obj) or "?"
        line = inspect.getsourcelines(obj)[1]
        return f"{path}:{line}"
    except (TypeError, OSError):
        return getattr(obj, "__module__", "?")


@dataclass(frozen=True)
class Provider:
    """Who registered a name, and where its definition stands."""

    name: str  # "auzoo (built-in)" or "plugin NAME (DIST VERSION)"
    where: str  # file:line of the definition, or a config file's path

    def __str__(self) -> str:
        return f"{self.name} at {self.where}"


class AuzooRegistry(Registry):
    """An mmengine Registry that records who registered each name.

    Registering an existing name raises :class:`RegistryConflictError` naming
    both providers, unless ``force=True``. While a plugin loads, the clash is
    recorded instead (see :func:`load_plugins`), so the plugin's other
    registrations go on; the name is then refused in every plugin that
    claimed it (:attr:`ambiguous`), or stays auzoo's own if auzoo has it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.providers: Dict[str, Provider] = {}
        self.claims: Dict[str, List[Claim]] = {}   # clashes recorded while plugins load
        self.ambiguous: Dict[str, List[Provider]] = {}  # names refused: several plugins claim them

    def _register_module(self, module, module_name=None, force=False) -> None:
        if not callable(module):
            raise TypeError(f"module must be callable, but got {type(module)}")
        names = [module.__name__] if module_name is None else module_name
        names = [names] if isinstance(names, str) else list(names)
        new = Provider(_current_provider, _where(module))
        taken = [name for name in names if not force and self._taken(name, module)]
        if taken and not _loading_plugin:
            name = taken[0]
            raise RegistryConflictError(
                f"{self.name} '{name}' is registered twice: first by "
                f"{self.providers.get(name, '?')}, then by {new}. "
                "Rename one of them, or pass force=True to replace it.")
        for name in names:
            if name in taken:
                self.claims.setdefault(name, []).append(Claim(new, module))
            elif force or name not in self._module_dict:
                self._module_dict[name] = module
                self.providers[name] = new

    def _taken(self, name: str, module) -> bool:
        if name in self.ambiguous:
            return True
        return name in self._module_dict and self._module_dict[name] is not module

    def unregister(self, name: str) -> None:
        self._module_dict.pop(name, None)
        self.providers.pop(name, None)

    def get(self, key):
        if isinstance(key, str) and key in self.ambiguous:
            raise RegistryConflictError(ambiguity_message(self.name, key, self.ambiguous[key]))
        return super().get(key)


@dataclass(frozen=True)
class Claim:
    """A registration held back because its name was taken."""

    provider: Provider
    obj: object


def ambiguity_message(kind: str, name: str, providers: List[Provider]) -> str:
    listed = "; ".join(str(p) for p in providers)
    return (f"{kind} '{name}' is ambiguous: it is provided by {len(providers)} plugins "
            f"({listed}), so auzoo refuses it in all of them. Uninstall one of them, "
            "or ask its authors to rename it.")


MODELS = AuzooRegistry("model", parent=MMENGINE_MODELS, scope="auzoo",
                       locations=["auzoo.models"])
BACKBONES = AuzooRegistry("backbone", scope="auzoo", locations=["auzoo.models"])
NECKS = AuzooRegistry("neck", scope="auzoo", locations=["auzoo.models"])
SPLITTERS = AuzooRegistry("splitter", scope="auzoo", locations=["auzoo.models"])
ATTENTION = AuzooRegistry("attention", scope="auzoo", locations=["auzoo.models"])
HEADS = AuzooRegistry("head", scope="auzoo", locations=["auzoo.models"])
# What a run is made of besides the model. DATASETS, METRICS and HOOKS are
# children of mmengine's, so a config's ``custom_hooks=[dict(type='MyHook')]``
# or ``val_evaluator=dict(type='MyMetric')`` finds a plugin's part under
# ``default_scope='auzoo'``; mmengine keeps losses in MODELS, whose auzoo child
# is taken, so LOSSES stands alone.
DATASETS = AuzooRegistry("dataset", parent=MMENGINE_DATASETS, scope="auzoo",
                         locations=["auzoo.data"])
LOSSES = AuzooRegistry("loss", scope="auzoo", locations=["auzoo.engine.losses"])
# Training batch samplers, built by mmengine's Runner.build_dataloader as a
# loader's batch_sampler (auzoo.data.sampler).
DATA_SAMPLERS = AuzooRegistry("sampler", parent=MMENGINE_DATA_SAMPLERS, scope="auzoo",
                              locations=["auzoo.data.sampler"])
METRICS = AuzooRegistry("metric", parent=MMENGINE_METRICS, scope="auzoo",
                        locations=["auzoo.engine.metrics"])
HOOKS = AuzooRegistry("hook", parent=MMENGINE_HOOKS, scope="auzoo",
                      locations=["auzoo.engine.hooks"])
# Data transforms: the steps of a config's ``train_pipeline`` / ``test_pipeline``
# (face alignment, crops, flips, colour jitter), as mmengine's convention has them.
TRANSFORMS = AuzooRegistry("transform", parent=MMENGINE_TRANSFORMS, scope="auzoo",
                           locations=["auzoo.data.transforms"])
# Readers of weights other code bases saved (a published model's official
# checkpoints), each for the model classes it names: auzoo.engine.weight_formats.
CHECKPOINT_FORMATS = AuzooRegistry("checkpoint format", scope="auzoo",
                                   locations=["auzoo.engine.weight_formats"])
# How a model takes another run's weights (init_from's ``transfer``): called as
# ``transfer(model, state_dict, source_meta, where)``, it returns a record.
WEIGHT_TRANSFERS = AuzooRegistry("weight_transfer", scope="auzoo",
                                 locations=["auzoo.engine.init"])
# How a recipe splits the model's parameters into optimiser groups
# (``optim_wrapper.constructor``: layer-wise learning-rate decay, no weight
# decay on some parameters ...); mmengine's own constructors stay reachable.
OPTIM_WRAPPER_CONSTRUCTORS = AuzooRegistry("optim_wrapper_constructor",
                                           parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                           scope="auzoo")

PART_REGISTRIES: Dict[str, AuzooRegistry] = {
    "backbones": BACKBONES,
    "necks": NECKS,
    "splitters": SPLITTERS,
    "attention": ATTENTION,
    "heads": HEADS,
    "models": MODELS,
    "datasets": DATASETS,
    "losses": LOSSES,
    "samplers": DATA_SAMPLERS,
    "metrics": METRICS,
    "hooks": HOOKS,
    "transforms": TRANSFORMS,
    "checkpoint_formats": CHECKPOINT_FORMATS,
    "weight_transfers": WEIGHT_TRANSFERS,
    "optim_wrapper_constructors": OPTIM_WRAPPER_CONSTRUCTORS,
}


# --------------------------------------------------------------------------
# Model configs: one file per model; the file's stem is the model's name.
# --------------------------------------------------------------------------

CONFIGS: Dict[str, Path] = {}
CONFIG_PROVIDERS: Dict[str, Provider] = {}
CONFIG_CLAIMS: Dict[str, List[Claim]] = {}        # clashes recorded while plugins load
AMBIGUOUS_CONFIGS: Dict[str, List[Provider]] = {}  # names refused: several plugins claim them


def register_config(name: str, path, force: bool = False) -> None:
    """Make the config file at ``path`` buildable as model ``name``."""
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"config file for model '{name}' not found: {path}")
    new = Provider(_current_provider, str(path))
    taken = name in AMBIGUOUS_CONFIGS or (name in CONFIGS and CONFIGS[name] != path)
    if not force and taken:
        if _loading_plugin:
            CONFIG_CLAIMS.setdefault(name, []).append(Claim(new, path))
            return
        raise RegistryConflictError(
            f"model config '{name}' is registered twice: first by "
            f"{CONFIG_PROVIDERS.get(name, '?')}, then by {new}.")
    CONFIGS[name] = path
    CONFIG_PROVIDERS[name] = new


def register_config_dir(directory, force: bool = False) -> List[str]:
    """Register every ``*.py`` config in ``directory`` (not ``_base_`` ones)."""
    names = []
    for path in sorted(Path(directory).glob("*.py")):
        if path.name.startswith("_"):
            continue
        register_config(path.stem, path, force=force)
        names.append(path.stem)
    return names


def provider_of(kind: str, name: str) -> Optional[Provider]:
    if kind == "configs":
        return CONFIG_PROVIDERS.get(name)
    return PART_REGISTRIES[kind].providers.get(name)


def registered_parts() -> Dict[str, Dict[str, Provider]]:
    ensure_loaded()
    return {key: dict(sorted(reg.providers.items())) for key, reg in PART_REGISTRIES.items()}


def build_part(registry: AuzooRegistry, cfg, **kwargs):
    """Build a part from ``dict(type=NAME, ...)`` with a helpful unknown-name error."""
    cfg = dict(cfg)
    name = cfg.get("type")
    if isinstance(name, str) and name not in registry.module_dict:
        ensure_loaded()
        if name in registry.ambiguous:
            raise RegistryConflictError(ambiguity_message(registry.name, name, registry.ambiguous[name]))
        if name not in registry.module_dict:
            import difflib

            known = ", ".join(sorted(registry.module_dict)) or "(none)"
            close = difflib.get_close_matches(name, list(registry.module_dict), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise KeyError(f"unknown {registry.name} '{name}'.{hint} Registered "
                           f"{registry.name}s: {known}")
    cfg.update(kwargs)
    return registry.build(cfg)


# Plugin loading lives in auzoo.plugin_loader; its entry points are re-exported here.
from auzoo.plugin_loader import (  # noqa: E402  (it imports this module's names)
    PluginInfo, ambiguous_names, ensure_loaded, load_builtins, load_plugins, plugins_disabled)

__all__ = [
    "ATTENTION", "BACKBONES", "HEADS", "MODELS", "NECKS", "SPLITTERS",
    "DATASETS", "LOSSES", "METRICS", "HOOKS", "DATA_SAMPLERS", "TRANSFORMS", "CHECKPOINT_FORMATS",
    "WEIGHT_TRANSFERS", "OPTIM_WRAPPER_CONSTRUCTORS",
    "PART_REGISTRIES", "CONFIGS", "AuzooRegistry", "RegistryConflictError",
    "PluginInfo", "Provider", "ambiguity_message", "ambiguous_names", "register_config", "register_config_dir",
    "load_plugins", "load_builtins", "ensure_loaded", "plugins_disabled",
    "registered_parts", "provider_of", "build_part", "PLUGIN_GROUP",
    "DISABLE_PLUGINS_ENV",
]
