"""Reading weight files strictly: every expected key present, with its shape,
or an error that names the file and the keys."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Mapping

import torch
from torch import Tensor, nn


def read_state_dict(path: Path) -> Dict[str, Tensor]:
    """A state dict from a ``.safetensors`` or torch file (``weights_only``),
    unwrapped from a ``model`` / ``state_dict`` / ``net`` entry if it has one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, or one holding arbitrary objects
        raise ValueError(f"{path}: not a loadable tensor checkpoint ({exc})") from exc
    for key in ("state_dict", "model", "net"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: holds a {type(state).__name__}, not a state dict")
    return dict(state)


def load_strict(module: nn.Module, state: Mapping[str, Tensor], source: str) -> None:
    """``module.load_state_dict(state)`` that lists every missing, unexpected
    and mis-shaped key of ``source`` instead of loading part of it."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    misshaped = sorted(f"{k} {tuple(state[k].shape)} (model {tuple(own[k].shape)})"
                       for k in set(own) & set(state) if tuple(state[k].shape) != tuple(own[k].shape))
    if missing or unexpected or misshaped:
        parts = [f"{name} ({len(keys)}): {', '.join(keys[:12])}{' …' if len(keys) > 12 else ''}"
                 for name, keys in (("missing", missing), ("unexpected", unexpected),
                                    ("wrong shape", misshaped)) if keys]
        raise ValueError(f"{source} does not fit {type(module).__name__}: " + "; ".join(parts))
    module.load_state_dict(state, strict=True)


def load_final_norm(norm: nn.LayerNorm, path: Path, prefix: str = "norm.") -> None:
    """Swin's final LayerNorm (``norm.weight`` / ``norm.bias``) from the
    classification weights the backbone was loaded from."""
    state = read_state_dict(path)
    picked = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    load_strict(norm, picked, f"{path} (keys '{prefix}*')")


__all__ = ["load_final_norm", "load_strict", "read_state_dict"]
