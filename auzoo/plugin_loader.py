"""Loading auzoo's own parts and the plugins' (``auzoo.plugins`` entry points).

Each entry point names a module (importing it registers its parts) or a
callable (called once, without arguments); ``AUZOO_NO_PLUGINS=1`` turns
loading off. A plugin that raises is rolled back and reported, with a warning
at the plugin's own file and line. A name that several plugins register is
refused in all of them (each keeps its other registrations), and a plugin's
claim on one of auzoo's own names is refused; ``auzoo list plugins`` shows
both. The rule is :mod:`auzoo.catalogue`'s, the same for every catalogue
(parts, model configs, published rows); this module only says who is
registering and settles the claims once every plugin has loaded.
"""
from __future__ import annotations

import contextlib
import inspect
import os
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import importlib_metadata

from auzoo.catalogue import BUILTIN, Provider, catalogues, registering_as
from auzoo.registry import DISABLE_PLUGINS_ENV, PLUGIN_GROUP, register_config_dir


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


def _registered_by(provider: str) -> List[str]:
    """``KIND:NAME`` of every name ``provider`` holds, in every catalogue."""
    return sorted(f"{key}:{cat.text(name)}" for key, cat in catalogues().items()
                  for name in cat.names_from(provider))


def _withdraw(provider: str) -> None:
    """Undo a failed plugin's registrations and claims, so that it leaves no trace."""
    for cat in catalogues().values():
        cat.withdraw(provider)


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
    try:
        with registering_as(info.provider, plugin=True):
            obj = ep.load()
            if callable(obj) and not inspect.ismodule(obj):
                obj()
    except Exception as exc:  # a broken plugin must not break auzoo
        _withdraw(info.provider)
        info.status = "failed"
        info.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        filename, lineno = _plugin_location(ep, exc)
        warnings.warn_explicit(f"auzoo plugin '{info.name}' from {info.distribution} "
                               f"{info.version} failed to load: {info.error}", RuntimeWarning,
                               filename, lineno, module=ep.value.split(":")[0])
        return info
    info.status = "loaded"
    return info


def _settle(plugins: List[PluginInfo]) -> None:
    """After every plugin has loaded: settle each catalogue's held-back claims
    (:meth:`auzoo.catalogue.Catalogue.settle`) and tell each plugin what it
    was refused and what it holds."""
    by_provider = {p.provider: p for p in plugins}
    for key, cat in catalogues().items():
        for refusal in cat.settle():
            _note(by_provider, refusal.provider,
                  f"{key}:{cat.text(refusal.name)} refused: {refusal.reason}")
    for info in plugins:
        if info.status == "loaded":
            info.registered = _registered_by(info.provider)


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


def ambiguous_names() -> Dict[str, Dict[object, List[Provider]]]:
    """Names refused because several plugins claim them, per catalogue."""
    return {key: dict(cat.ambiguous) for key, cat in catalogues().items() if cat.ambiguous}


def load_builtins() -> None:
    """Register auzoo's own parts and configs (idempotent)."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    with registering_as(BUILTIN):
        import auzoo.models  # noqa: F401  (importing registers the parts)
        import auzoo.report.published_rows  # noqa: F401
        import auzoo.report.published_intensity  # noqa: F401
        # what a run is made of: the training module, losses, metrics, hooks
        import auzoo.data.au_frames  # noqa: F401  (AUFrames, in DATASETS)
        import auzoo.data.sampler  # noqa: F401
        import auzoo.data.transforms  # noqa: F401
        import auzoo.engine.hooks  # noqa: F401
        import auzoo.engine.progress  # noqa: F401
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
    _settle(_plugins)
    return _plugins


def ensure_loaded() -> None:
    """Built-in parts, built-in configs, then plugins."""
    load_plugins()


__all__ = ["PluginInfo", "ambiguous_names", "ensure_loaded", "load_builtins", "load_plugins",
           "plugins_disabled"]
