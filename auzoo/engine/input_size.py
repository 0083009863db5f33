"""One input size for a run: ``img_size`` reaches every part built for it, and
a model that cannot take it is refused before anything trains.

The faces are resized to the config's ``img_size``; a part that is built for
an input size (a ViT's position embedding and patch grid, a Swin's windows)
says so with an ``img_size`` key in its config (``model.backbone.img_size``).
The run's ``img_size`` is written into every such key, so ``--img-size 64``
(or a preset's size) changes the faces and the model together. Setting a
part's size to something else on the command line is refused: there is one
input size per run.
"""
from __future__ import annotations

import copy
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from mmengine.config import Config

SIZE_KEY = "img_size"
DEFAULT_SIZE = 224
# Sizes tried, when a model refuses the run's, to say which it takes.
PROBE_SIZES = (32, 64, 96, 112, 128, 160, 176, 192, 224, 256, 288, 320, 384)


def sized_parts(section: Any, prefix: str = "model") -> List[str]:
    """Dotted keys of every ``img_size`` in a config section (lists by index)."""
    found: List[str] = []
    if isinstance(section, Mapping):
        for key, value in section.items():
            where = f"{prefix}.{key}"
            if key == SIZE_KEY:
                found.append(where)
            else:
                found += sized_parts(value, where)
    elif isinstance(section, (list, tuple)):
        for i, value in enumerate(section):
            found += sized_parts(value, f"{prefix}.{i}")
    return found


def _set(cfg: Config, dotted: str, value: Any) -> None:
    *path, last = dotted.split(".")
    node = cfg
    for part in path:
        node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
    node[last] = value


def propagate_img_size(cfg: Config, given: Sequence[Tuple[str, Mapping[str, Any]]] = ()
                       ) -> List[str]:
    """Write ``cfg.img_size`` into every part of ``cfg.model`` built for an input
    size; returns their keys. ``given``: (where, dotted options) a user set,
    e.g. ``[('--cfg-options', {...})]``; one that sets a part's size to another
    value than ``img_size`` is refused, naming where it came from."""
    size = int(cfg.get(SIZE_KEY, DEFAULT_SIZE))
    for where, options in given:
        for key, value in (options or {}).items():
            if key.startswith("model.") and key.endswith("." + SIZE_KEY) and int(value) != size:
                raise ValueError(f"{where}: {key}={value} disagrees with img_size={size}; a run has "
                                 f"one input size: set img_size (--img-size {value}), which "
                                 f"reaches {key} and every other part built for a size")
    keys = sized_parts(cfg.get("model") or {})
    for key in keys:
        _set(cfg, key, size)
    return keys


def _without_weights(section: Any) -> Any:
    """The model section with every weight file left out: a size probe needs
    the architecture only."""
    if isinstance(section, Mapping):
        return {k: (None if k == "weights" else _without_weights(v)) for k, v in section.items()}
    if isinstance(section, (list, tuple)):
        return type(section)(_without_weights(v) for v in section)
    return section


def _probe(cfg: Config, size: int) -> Optional[BaseException]:
    """None if the model of ``cfg``, built for ``size``, runs a ``size`` px
    batch; else the error it raised."""
    import torch

    import auzoo

    probe = Config(copy.deepcopy(cfg.to_dict()))
    probe[SIZE_KEY] = size
    probe.model = _without_weights(probe.model)
    propagate_img_size(probe)
    try:
        model = auzoo.build_model(probe)
        model.eval()
        inputs = (torch.zeros(1, 3, size, size),)
        if getattr(model, "requires_landmarks", False):
            inputs += (torch.full((1, 66, 2), size / 2.0),)
        with torch.no_grad():
            model(*inputs)
    except Exception as exc:  # any failure: the size does not fit this model
        return exc
    return None


def sizes_taken(cfg: Config, candidates: Sequence[int] = PROBE_SIZES) -> List[int]:
    """The ``candidates`` the model of ``cfg`` takes."""
    return [s for s in candidates if _probe(cfg, s) is None]


def check_input_size(cfg: Config) -> None:
    """Refuse a resolved config whose model cannot take its ``img_size``,
    naming the model and the sizes it takes (built without weight files, one
    blank image through it)."""
    size = int(cfg.get(SIZE_KEY, DEFAULT_SIZE))
    error = _probe(cfg, size)
    if error is None:
        return
    name = cfg.get("name", "the model")
    taken = sizes_taken(cfg)
    takes = (f"it takes {', '.join(map(str, taken))} (of {', '.join(map(str, PROBE_SIZES))})"
             if taken else f"it takes none of {', '.join(map(str, PROBE_SIZES))}")
    raise ValueError(f"{name} cannot take img_size={size} ({type(error).__name__}: "
                     f"{str(error).splitlines()[0] if str(error) else ''}); {takes}. "
                     "Set another --img-size.")


__all__ = ["SIZE_KEY", "sized_parts", "propagate_img_size", "check_input_size", "sizes_taken"]

