"""Finding a dataset by name: its registered protocol, and what ``auzoo
prepare NAME`` and ``auzoo synth NAME`` run for it.

A protocol class (an :class:`~auzoo.data.datasets.base.AUDataset` registered
in :data:`auzoo.registry.PROTOCOLS`) names its cache writer and its
synthetic writer as ``"module:function"`` (``prepare_with``, ``synth_with``),
imported only when a command runs them. Each function takes its positional
arguments (the root, or labels file, and the cache folder; the output
folder) and the command's options by keyword; an option the function does
not take, or one left unset (None), is not passed, so each dataset keeps its
own defaults. A dataset that plugs in is found the same way as auzoo's own.
"""
from __future__ import annotations

import importlib
import inspect
from typing import Callable, Dict, List

from auzoo.data.datasets.base import AUDataset


def protocol_names() -> List[str]:
    """The registered datasets, auzoo's and the plugins'."""
    from auzoo.registry import PROTOCOLS, ensure_loaded

    ensure_loaded()
    return sorted(PROTOCOLS.module_dict)


def protocol_class(name: str) -> type:
    """The registered protocol class called ``name``; a KeyError lists those there are."""
    from auzoo.registry import PROTOCOLS, ensure_loaded

    cls = PROTOCOLS.get(name)
    if cls is None:  # a plugin's: load the plugins, then look again
        ensure_loaded()
        cls = PROTOCOLS.get(name)
    if cls is None or not (isinstance(cls, type) and issubclass(cls, AUDataset)):
        raise KeyError(f"{name!r} is not a registered auzoo dataset (registered: "
                       f"{', '.join(protocol_names())}; is the plugin that provides it installed?)")
    return cls


def dataset_from_meta(meta: dict) -> AUDataset:
    """The registered dataset a cache's meta names (no name: the first writer's DISFA)."""
    name = meta.get("dataset", "disfa")
    try:
        cls = protocol_class(name)
    except KeyError as exc:
        raise KeyError(f"the cache names dataset {name!r}: {exc.args[0]}") from None
    return cls.from_meta(meta)


def get_dataset(name: str) -> AUDataset:
    """A registered dataset with a fixed protocol, by name (``disfa``, ``bp4d``)."""
    return dataset_from_meta({"dataset": name})


def named_function(cls: type, attribute: str) -> Callable:
    """The function a protocol class names in ``attribute`` (``prepare_with``, ``synth_with``)."""
    spec = getattr(cls, attribute, "") or ""
    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        raise ValueError(f"{cls.__name__}.{attribute} is {spec!r}, not 'module:function'")
    package = cls.__module__.rpartition(".")[0] if module_name.startswith(".") else None
    module = importlib.import_module(module_name, package)
    try:
        return getattr(module, function)
    except AttributeError:
        raise ValueError(f"{cls.__name__}.{attribute}: module {module.__name__} has no "
                         f"{function!r}") from None


def _writer(name: str, attribute: str, command: str) -> Callable:
    cls = protocol_class(name)
    if not getattr(cls, attribute, ""):
        able = [n for n in protocol_names() if getattr(protocol_class(n), attribute, "")]
        raise ValueError(f"dataset {name!r} has nothing for auzoo {command} (its protocol sets "
                         f"no {attribute}); auzoo {command} knows: {', '.join(able) or 'none'}")
    return named_function(cls, attribute)


def _accepted(function: Callable, options: Dict[str, object]) -> Dict[str, object]:
    """The options ``function`` takes, without those left unset."""
    params = inspect.signature(function).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return {k: v for k, v in options.items() if v is not None and (takes_any or k in params)}


def prepare_dataset(name: str, root, out, **options) -> dict:
    """``auzoo prepare NAME ROOT --out OUT``: the dataset's cache writer; returns the meta."""
    function = _writer(name, "prepare_with", "prepare")
    return function(root, out, **_accepted(function, options))


def synth_dataset(name: str, out, **options):
    """``auzoo synth NAME OUT``: the dataset's synthetic writer; returns what it returns."""
    function = _writer(name, "synth_with", "synth")
    return function(out, **_accepted(function, options))
