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
loading off. Loading is in :mod:`auzoo.plugin_loader`; what happens when two
providers register one name is :mod:`auzoo.catalogue`'s one rule, the same for
parts, model configs and published rows.
"""
from __future__ import annotations

import inspect
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

from auzoo.catalogue import (BUILTIN, Catalogue, Claim, Provider, RegistryConflictError,
                             ambiguity_message, caller_location, current_provider, enrol,
                             registering_as)

PLUGIN_GROUP = "auzoo.plugins"
DISABLE_PLUGINS_ENV = "AUZOO_NO_PLUGINS"


def _where(obj) -> str:
    try:
        path = inspect.getsourcefile(obj) or "?"
        line = inspect.getsourcelines(obj)[1]
        return f"{path}:{line}"
    except (TypeError, OSError):
        return getattr(obj, "__module__", "?")


class AuzooRegistry(Registry):
    """An mmengine Registry whose names follow auzoo's one clash rule.

    mmengine builds from it as from any Registry; who registered each name,
    and what happens when a name is taken, is its :attr:`catalogue`'s
    (:class:`auzoo.catalogue.Catalogue`): registering a taken name raises
    :class:`RegistryConflictError` naming both providers unless
    ``force=True``; while a plugin loads the clash is held back and settled
    once all plugins have loaded (:func:`load_plugins`).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.catalogue = Catalogue(self.name, entries=self._module_dict)

    @property
    def providers(self) -> Dict[str, Provider]:
        return self.catalogue.providers

    @property
    def claims(self) -> Dict[str, List[Claim]]:
        return self.catalogue.claims

    @property
    def ambiguous(self) -> Dict[str, List[Provider]]:
        return self.catalogue.ambiguous

    def _register_module(self, module, module_name=None, force=False) -> None:
        if not callable(module):
            raise TypeError(f"module must be callable, but got {type(module)}")
        names = [module.__name__] if module_name is None else module_name
        names = [names] if isinstance(names, str) else list(names)
        self.catalogue.register(names, module, _where(module), force=force)

    def unregister(self, name: str) -> None:
        self.catalogue.remove(name)

    def get(self, key):
        if isinstance(key, str):
            self.catalogue.check(key)
        return super().get(key)


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
# is taken, so LOSSES stands alone. DATASETS holds torch datasets (what a
# DataLoader reads); PROTOCOLS the dataset protocols a cache names (AUs, folds,
# positive rule; each with its reader, prepare and synthetic writer).
DATASETS = AuzooRegistry("dataset", parent=MMENGINE_DATASETS, scope="auzoo",
                         locations=["auzoo.data"])
PROTOCOLS = AuzooRegistry("dataset protocol", scope="auzoo", locations=["auzoo.data.datasets"])
LOSSES = AuzooRegistry("loss", scope="auzoo", locations=["auzoo.engine.losses"])
# Training batch samplers, built by mmengine's Runner.build_dataloader as a
# loader's batch_sampler (auzoo.data.sampler).
DATA_SAMPLERS = AuzooRegistry("sampler", parent=MMENGINE_DATA_SAMPLERS, scope="auzoo",
                              locations=["auzoo.data.sampler"])
METRICS = AuzooRegistry("metric", parent=MMENGINE_METRICS, scope="auzoo",
                        locations=["auzoo.engine.metrics"])
HOOKS = AuzooRegistry("hook", parent=MMENGINE_HOOKS, scope="auzoo",
                      locations=["auzoo.engine.hooks", "auzoo.engine.progress"])
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
    "protocols": PROTOCOLS,
    "losses": LOSSES,
    "samplers": DATA_SAMPLERS,
    "metrics": METRICS,
    "hooks": HOOKS,
    "transforms": TRANSFORMS,
    "checkpoint_formats": CHECKPOINT_FORMATS,
    "weight_transfers": WEIGHT_TRANSFERS,
    "optim_wrapper_constructors": OPTIM_WRAPPER_CONSTRUCTORS,
}


for _key, _registry in PART_REGISTRIES.items():
    enrol(_key, _registry.catalogue)


# --------------------------------------------------------------------------
# Model configs: one file per model; the file's stem is the model's name.
# --------------------------------------------------------------------------

CONFIG_CATALOGUE = enrol("configs", Catalogue("model config"))
# Views of the catalogue, read by `auzoo list` and config loading.
CONFIGS: Dict[str, Path] = CONFIG_CATALOGUE.entries
CONFIG_PROVIDERS: Dict[str, Provider] = CONFIG_CATALOGUE.providers
CONFIG_CLAIMS: Dict[str, List[Claim]] = CONFIG_CATALOGUE.claims
AMBIGUOUS_CONFIGS: Dict[str, List[Provider]] = CONFIG_CATALOGUE.ambiguous


def register_config(name: str, path, force: bool = False) -> None:
    """Make the config file at ``path`` buildable as model ``name``."""
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"config file for model '{name}' not found: {path}")
    CONFIG_CATALOGUE.register([name], path, str(path), force=force)


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
        registry.catalogue.check(name)
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
    "DATASETS", "PROTOCOLS", "LOSSES", "METRICS", "HOOKS", "DATA_SAMPLERS", "TRANSFORMS",
    "CHECKPOINT_FORMATS",
    "WEIGHT_TRANSFERS", "OPTIM_WRAPPER_CONSTRUCTORS",
    "PART_REGISTRIES", "CONFIGS", "AuzooRegistry", "RegistryConflictError",
    "PluginInfo", "Provider", "ambiguity_message", "ambiguous_names", "register_config", "register_config_dir",
    "load_plugins", "load_builtins", "ensure_loaded", "plugins_disabled",
    "registered_parts", "provider_of", "build_part", "PLUGIN_GROUP",
    "DISABLE_PLUGINS_ENV", "BUILTIN", "CONFIG_CATALOGUE", "Catalogue", "caller_location",
    "current_provider", "registering_as",
]
