"""The registries of auzoo's parts, the config catalogue, and the plugin loader.

Every part a model is made of is registered under a short name in one of the
registries below, and configs refer to parts by those names only: the
registries are the single coupling between parts. ``MODELS`` is a child of
mmengine's root model registry (scope ``auzoo``) so that mmengine can build
auzoo models by name; the part registries stand alone. mmengine refuses two
children with the same scope under one parent, so only ``MODELS`` has one.

Third-party packages add parts through the ``auzoo.plugins`` entry-point group:
each entry point names a module (importing it registers its parts) or a
callable (called once, without arguments). ``AUZOO_NO_PLUGINS=1`` turns plugin
loading off.
"""
from __future__ import annotations

import contextlib
import inspect
import os
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import importlib_metadata
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

PLUGIN_GROUP = "auzoo.plugins"
DISABLE_PLUGINS_ENV = "AUZOO_NO_PLUGINS"

BUILTIN = "auzoo (built-in)"

# Who is registering right now: auzoo itself, or the plugin being loaded.
_current_provider: str = BUILTIN


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
    both providers, unless ``force=True``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.providers: Dict[str, Provider] = {}

    def _register_module(self, module, module_name=None, force=False) -> None:
        if not callable(module):
            raise TypeError(f"module must be callable, but got {type(module)}")
        names = [module.__name__] if module_name is None else module_name
        names = [names] if isinstance(names, str) else list(names)
        new = Provider(_current_provider, _where(module))
        for name in names:
            if not force and name in self._module_dict:
                if self._module_dict[name] is module:
                    continue  # the same object again (a module imported twice)
                raise RegistryConflictError(
                    f"{self.name} '{name}' is registered twice: first by "
                    f"{self.providers.get(name, '?')}, then by {new}. "
                    "Rename one of them, or pass force=True to replace it.")
        for name in names:
            self._module_dict[name] = module
            self.providers[name] = new

    def unregister(self, name: str) -> None:
        self._module_dict.pop(name, None)
        self.providers.pop(name, None)


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
METRICS = AuzooRegistry("metric", parent=MMENGINE_METRICS, scope="auzoo",
                        locations=["auzoo.engine.metrics"])
HOOKS = AuzooRegistry("hook", parent=MMENGINE_HOOKS, scope="auzoo",
                      locations=["auzoo.engine.hooks"])

PART_REGISTRIES: Dict[str, AuzooRegistry] = {
    "backbones": BACKBONES,
    "necks": NECKS,
    "splitters": SPLITTERS,
    "attention": ATTENTION,
    "heads": HEADS,
    "models": MODELS,
    "datasets": DATASETS,
    "losses": LOSSES,
    "metrics": METRICS,
    "hooks": HOOKS,
}


# --------------------------------------------------------------------------
# Model configs: one file per model; the file's stem is the model's name.
# --------------------------------------------------------------------------

CONFIGS: Dict[str, Path] = {}
CONFIG_PROVIDERS: Dict[str, Provider] = {}


def register_config(name: str, path, force: bool = False) -> None:
    """Make the config file at ``path`` buildable as model ``name``."""
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"config file for model '{name}' not found: {path}")
    new = Provider(_current_provider, str(path))
    if not force and name in CONFIGS and CONFIGS[name] != path:
        raise RegistryConflictError(
            f"model config '{name}' is registered twice: first by "
            f"{CONFIG_PROVIDERS[name]}, then by {new}.")
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


# --------------------------------------------------------------------------
# Plugins
# --------------------------------------------------------------------------

@dataclass
class PluginInfo:
    name: str
    value: str  # what the entry point names: "pkg.module" or "pkg.module:func"
    distribution: str
    version: str
    status: str = "pending"  # "loaded", "failed" or "disabled"
    error: Optional[str] = None
    registered: List[str] = field(default_factory=list)


_plugins: Optional[List[PluginInfo]] = None
_builtins_loaded = False


def plugins_disabled() -> bool:
    return os.environ.get(DISABLE_PLUGINS_ENV, "").strip().lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def _providing(name: str) -> Iterator[None]:
    global _current_provider
    previous, _current_provider = _current_provider, name
    try:
        yield
    finally:
        _current_provider = previous


def _snapshot() -> Dict[str, set]:
    from auzoo.report.published import PUBLISHED

    snap = {key: set(reg.module_dict) for key, reg in PART_REGISTRIES.items()}
    snap["configs"] = set(CONFIGS)
    snap["published"] = set(PUBLISHED)
    return snap


def _added_since(before: Dict[str, set]) -> Dict[str, set]:
    after = _snapshot()
    return {key: after[key] - before[key] for key in after if after[key] - before[key]}


def _roll_back(added: Dict[str, set]) -> None:
    """Undo a failed plugin's partial registrations so it leaves no trace."""
    for key, names in added.items():
        for name in names:
            if key == "configs":
                CONFIGS.pop(name, None)
                CONFIG_PROVIDERS.pop(name, None)
            elif key == "published":
                from auzoo.report.published import unregister_published
                unregister_published(name)
            else:
                PART_REGISTRIES[key].unregister(name)


def _load_entry_point(ep) -> PluginInfo:
    dist = getattr(ep, "dist", None)
    info = PluginInfo(name=ep.name, value=ep.value,
                      distribution=dist.name if dist else "?",
                      version=dist.version if dist else "?")
    before = _snapshot()
    try:
        with _providing(f"plugin {info.name} ({info.distribution} {info.version})"):
            obj = ep.load()
            if callable(obj) and not inspect.ismodule(obj):
                obj()
    except Exception as exc:  # a broken plugin must not break auzoo
        _roll_back(_added_since(before))
        info.status = "failed"
        info.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        warnings.warn(f"auzoo plugin '{info.name}' from {info.distribution} "
                      f"{info.version} failed to load: {info.error}", RuntimeWarning,
                      stacklevel=2)
        return info
    info.status = "loaded"
    info.registered = sorted(f"{key}:{name}" for key, names in
                             _added_since(before).items() for name in names)
    return info


def load_builtins() -> None:
    """Register auzoo's own parts and configs (idempotent)."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    with _providing(BUILTIN):
        import auzoo.models  # noqa: F401  (importing registers the parts)
        import auzoo.report.published_rows  # noqa: F401
        from auzoo.configs import CONFIG_DIR
        register_config_dir(CONFIG_DIR)


def load_plugins(reload: bool = False) -> List[PluginInfo]:
    """Discover and load every ``auzoo.plugins`` entry point once.

    Returns one :class:`PluginInfo` per entry point. With plugins disabled by
    ``AUZOO_NO_PLUGINS``, the plugins are listed with status ``disabled``.
    """
    global _plugins
    load_builtins()
    if _plugins is not None and not reload:
        return _plugins
    eps = sorted(importlib_metadata.entry_points(group=PLUGIN_GROUP),
                 key=lambda ep: (ep.name, ep.value))
    if plugins_disabled():
        _plugins = [PluginInfo(ep.name, ep.value,
                               ep.dist.name if ep.dist else "?",
                               ep.dist.version if ep.dist else "?",
                               status="disabled") for ep in eps]
        return _plugins
    _plugins = [_load_entry_point(ep) for ep in eps]
    return _plugins


def ensure_loaded() -> None:
    """Built-in parts, built-in configs, then plugins."""
    load_plugins()


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
        if name not in registry.module_dict:
            known = ", ".join(sorted(registry.module_dict)) or "(none)"
            raise KeyError(f"unknown {registry.name} '{name}'. Registered {registry.name}s: {known}")
    cfg.update(kwargs)
    return registry.build(cfg)


__all__ = [
    "ATTENTION", "BACKBONES", "HEADS", "MODELS", "NECKS", "SPLITTERS",
    "DATASETS", "LOSSES", "METRICS", "HOOKS",
    "PART_REGISTRIES", "CONFIGS", "AuzooRegistry", "RegistryConflictError",
    "PluginInfo", "Provider", "register_config", "register_config_dir",
    "load_plugins", "load_builtins", "ensure_loaded", "plugins_disabled",
    "registered_parts", "provider_of", "build_part", "PLUGIN_GROUP",
    "DISABLE_PLUGINS_ENV",
]
