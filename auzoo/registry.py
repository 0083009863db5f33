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
from typing import Dict, Iterator, List, Optional, Tuple

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
    conflicts: List[str] = field(default_factory=list)  # names refused, and why

    @property
    def provider(self) -> str:
        return f"plugin {self.name} ({self.distribution} {self.version})"


_plugins: Optional[List[PluginInfo]] = None
_builtins_loaded = False


def plugins_disabled() -> bool:
    return os.environ.get(DISABLE_PLUGINS_ENV, "").strip().lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def _providing(name: str, plugin: bool = False) -> Iterator[None]:
    global _current_provider, _loading_plugin
    previous = _current_provider, _loading_plugin
    _current_provider, _loading_plugin = name, plugin
    try:
        yield
    finally:
        _current_provider, _loading_plugin = previous


def _snapshot() -> Dict[str, set]:
    from auzoo.report.published import PUBLISHED

    snap = {key: set(reg.module_dict) for key, reg in PART_REGISTRIES.items()}
    snap["configs"] = set(CONFIGS)
    snap["published"] = set(PUBLISHED)
    return snap


def _added_since(before: Dict[str, set]) -> Dict[str, set]:
    after = _snapshot()
    return {key: after[key] - before[key] for key in after if after[key] - before[key]}


def _roll_back(added: Dict[str, set], provider: str) -> None:
    """Undo a failed plugin's partial registrations (and clashes) so it leaves no trace."""
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
    for catalogue in _catalogues().values():
        for name, claims in list(catalogue.claims.items()):
            claims[:] = [c for c in claims if c.provider.name != provider]
            if not claims:
                del catalogue.claims[name]


def _plugin_location(ep, exc: BaseException) -> Tuple[str, int]:
    """The plugin's own file and line where loading failed: the deepest frame
    of the traceback inside the plugin's package, else its entry module."""
    import importlib.util

    module = ep.value.split(":")[0].strip()
    roots: List[str] = []
    with contextlib.suppress(Exception):
        spec = importlib.util.find_spec(module.split(".")[0])
        if spec is not None:
            roots = list(spec.submodule_search_locations or []) or [str(Path(spec.origin).parent)]
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if any(str(Path(f.filename).resolve()).startswith(
        str(Path(root).resolve())) for root in roots)]
    if inside:
        return inside[-1].filename, inside[-1].lineno or 1
    with contextlib.suppress(Exception):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin:
            return spec.origin, 1
    return module, 1


def _load_entry_point(ep) -> PluginInfo:
    dist = getattr(ep, "dist", None)
    info = PluginInfo(name=ep.name, value=ep.value,
                      distribution=dist.name if dist else "?",
                      version=dist.version if dist else "?")
    before = _snapshot()
    try:
        with _providing(info.provider, plugin=True):
            obj = ep.load()
            if callable(obj) and not inspect.ismodule(obj):
                obj()
    except Exception as exc:  # a broken plugin must not break auzoo
        _roll_back(_added_since(before), info.provider)
        info.status = "failed"
        info.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        filename, lineno = _plugin_location(ep, exc)
        warnings.warn_explicit(f"auzoo plugin '{info.name}' from {info.distribution} "
                               f"{info.version} failed to load: {info.error}", RuntimeWarning,
                               filename, lineno, module=ep.value.split(":")[0])
        return info
    info.status = "loaded"
    info.registered = sorted(f"{key}:{name}" for key, names in
                             _added_since(before).items() for name in names)
    return info


class _Catalogue:
    """One namespace of names (a part registry, or the model configs) as the
    clash resolution sees it."""

    def __init__(self, providers, entries, claims, ambiguous):
        self.providers, self.entries = providers, entries
        self.claims, self.ambiguous = claims, ambiguous

    def give(self, name: str, claim: Claim) -> None:
        self.entries[name], self.providers[name] = claim.obj, claim.provider

    def take_away(self, name: str) -> None:
        self.entries.pop(name, None)
        self.providers.pop(name, None)


def _catalogues() -> Dict[str, _Catalogue]:
    cats = {key: _Catalogue(reg.providers, reg._module_dict, reg.claims, reg.ambiguous)
            for key, reg in PART_REGISTRIES.items()}
    cats["configs"] = _Catalogue(CONFIG_PROVIDERS, CONFIGS, CONFIG_CLAIMS, AMBIGUOUS_CONFIGS)
    return cats


def _resolve_clashes(plugins: List[PluginInfo]) -> None:
    """After every plugin has loaded: a name claimed by several plugins is
    refused in all of them; a plugin's claim on one of auzoo's own names is
    refused (auzoo keeps it). Each plugin keeps its other registrations."""
    by_provider = {p.provider: p for p in plugins}
    for kind, cat in _catalogues().items():
        for name, claims in list(cat.claims.items()):
            holder = cat.providers.get(name)
            if holder is not None and holder.name == BUILTIN:
                for claim in claims:
                    _note(by_provider, claim.provider, f"{kind}:{name} refused: auzoo's own "
                          f"has this name ({holder})")
            else:
                parties = ([holder] if holder is not None else cat.ambiguous.get(name, []))
                parties = parties + [c.provider for c in claims]
                if len(parties) == 1:
                    cat.give(name, claims[0])
                else:
                    cat.take_away(name)
                    cat.ambiguous[name] = parties
                    for party in parties:
                        others = "; ".join(str(p) for p in parties if p is not party)
                        _note(by_provider, party, f"{kind}:{name} refused: also provided by {others}")
                        info = by_provider.get(party.name)
                        if info is not None and f"{kind}:{name}" in info.registered:
                            info.registered.remove(f"{kind}:{name}")
            del cat.claims[name]


def _note(by_provider: Dict[str, PluginInfo], provider: Provider, text: str) -> None:
    info = by_provider.get(provider.name)
    if info is not None and text not in info.conflicts:
        info.conflicts.append(text)
        # Point at the plugin's own definition (file:line, or its config file).
        filename, _, line = provider.where.rpartition(":")
        if not line.isdigit():
            filename, line = provider.where, "1"
        warnings.warn_explicit(f"auzoo {info.provider}: {text}", RuntimeWarning, filename,
                               int(line), module=info.value.split(":")[0])


def ambiguous_names() -> Dict[str, Dict[str, List[Provider]]]:
    """Names refused because several plugins claim them, per kind."""
    cats = _catalogues()
    return {kind: dict(cat.ambiguous) for kind, cat in cats.items() if cat.ambiguous}


def load_builtins() -> None:
    """Register auzoo's own parts and configs (idempotent)."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    with _providing(BUILTIN):
        import auzoo.models  # noqa: F401  (importing registers the parts)
        import auzoo.report.published_rows  # noqa: F401
        # what a run is made of: the training module, losses, metrics, hooks
        import auzoo.engine.hooks  # noqa: F401
        import auzoo.engine.losses  # noqa: F401
        import auzoo.engine.metrics  # noqa: F401
        import auzoo.engine.model  # noqa: F401
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
    _resolve_clashes(_plugins)
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
        if name in registry.ambiguous:
            raise RegistryConflictError(ambiguity_message(registry.name, name, registry.ambiguous[name]))
        if name not in registry.module_dict:
            known = ", ".join(sorted(registry.module_dict)) or "(none)"
            raise KeyError(f"unknown {registry.name} '{name}'. Registered {registry.name}s: {known}")
    cfg.update(kwargs)
    return registry.build(cfg)


__all__ = [
    "ATTENTION", "BACKBONES", "HEADS", "MODELS", "NECKS", "SPLITTERS",
    "DATASETS", "LOSSES", "METRICS", "HOOKS",
    "PART_REGISTRIES", "CONFIGS", "AuzooRegistry", "RegistryConflictError",
    "PluginInfo", "Provider", "ambiguity_message", "ambiguous_names", "register_config", "register_config_dir",
    "load_plugins", "load_builtins", "ensure_loaded", "plugins_disabled",
    "registered_parts", "provider_of", "build_part", "PLUGIN_GROUP",
    "DISABLE_PLUGINS_ENV",
]
