"""Loading auzoo's own parts and the plugins' (``auzoo.plugins`` entry points).

Each entry point names a module (importing it registers its parts) or a
callable (called once, without arguments); ``AUZOO_NO_PLUGINS=1`` turns
loading off. A plugin that raises is rolled back and reported, with a warning
at the plugin's own file and line. A name that several plugins register is
refused in all of them (each keeps its other registrations), and a plugin's
claim on one of auzoo's own names is refused; ``auzoo list plugins`` shows
both. Registering is in :mod:`auzoo.registry`.
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

from auzoo import registry
from auzoo.registry import (AMBIGUOUS_CONFIGS, BUILTIN, CONFIG_CLAIMS, CONFIG_PROVIDERS, CONFIGS,
                            DISABLE_PLUGINS_ENV, PART_REGISTRIES, PLUGIN_GROUP, Claim, Provider,
                            register_config_dir)

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
    """Registrations inside are ``name``'s; with ``plugin`` a clash is recorded, not raised."""
    previous = registry._current_provider, registry._loading_plugin
    registry._current_provider, registry._loading_plugin = name, plugin
    try:
        yield
    finally:
        registry._current_provider, registry._loading_plugin = previous


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
        import auzoo.report.published_intensity  # noqa: F401
        # what a run is made of: the training module, losses, metrics, hooks
        import auzoo.data.dataset  # noqa: F401  (AUFrames, in DATASETS)
        import auzoo.data.sampler  # noqa: F401
        import auzoo.data.transforms  # noqa: F401
        import auzoo.engine.hooks  # noqa: F401
        import auzoo.engine.init  # noqa: F401
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


__all__ = ["PluginInfo", "ambiguous_names", "ensure_loaded", "load_builtins", "load_plugins",
           "plugins_disabled"]
