"""Weight files: safe reading, strict loading, and what a backbone started from.

Every weight file a user hands auzoo is read without running code from it:
PyTorch files with ``torch.load(weights_only=True)`` (through timm's loader,
which also reads ``.safetensors`` and unwraps ``state_dict`` / ``model`` /
EMA entries and ``module.`` prefixes), and the VGGFace2 SENet-50 pickles with
an unpickler that can build numpy arrays and nothing else
(:mod:`auzoo.models.backbones.vggface2_weights`, re-exported here).
:func:`load_state_dict_strict` is the one way weights go into a module;
:func:`backbone_init` and :func:`check_frozen_init` record and check what a
backbone starts from.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Union

import torch

PathLike = Union[str, os.PathLike]


# --------------------------------------------------------------- PyTorch weight files

def load_state_dict_file(path: PathLike, map_location: Union[str, torch.device] = "cpu",
                         use_ema: bool = True) -> Dict[str, torch.Tensor]:
    """The state dict in a weight file, loaded without running code from it.

    Reads ``.pth``/``.pt``/``.bin`` with ``torch.load(weights_only=True)``
    and ``.safetensors``; a checkpoint's ``state_dict`` (auzoo, mmengine) or
    ``model`` entry is taken, EMA weights preferred when present (timm's
    rules), ``module.`` / ``_orig_mod.`` prefixes stripped.
    """
    from timm.models import load_state_dict

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    try:
        state = load_state_dict(str(path), use_ema=use_ema, device=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError) as exc:
        # torch's own message goes on to suggest weights_only=False: keep its first sentence.
        reason = str(exc).strip().split(". ")[0].splitlines()[0] or type(exc).__name__
        hint = ""
        if path.suffix.lower() in (".pkl", ".pickle"):
            hint = (" A VGGFace2 SENet-50 pickle must be converted first: "
                    f"auzoo convert-weights {path} {path.with_suffix('.pth').name}")
        raise ValueError(f"{path}: not loadable as a weights-only PyTorch or safetensors "
                         f"file ({reason}).{hint}") from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: holds no state dict (a mapping of names to tensors)")
    return dict(state)


class WeightsMismatchError(ValueError):
    """A state dict that does not fit a module; the message names the file and the keys."""


def _preview(names, limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def load_state_dict_strict(module: torch.nn.Module, state: Mapping[str, torch.Tensor],
                           source: str, prefixes: Optional[Sequence[str]] = None) -> None:
    """Load ``state`` into ``module`` when every key fits, else raise one error
    that names ``source`` and lists the missing, unexpected and mis-shaped keys.

    The one way auzoo loads weights into a module (backbone weight files,
    checkpoints, stage-2 initialisation). BatchNorm ``num_batches_tracked``
    counters may be missing (weights converted from Caffe have none): they are
    bookkeeping, not weights. With ``prefixes`` (e.g. ``['backbone.']``) only
    the keys under them are loaded, and every one of the module's keys under
    them must be in ``state``.
    """
    own = module.state_dict()
    if prefixes is not None:
        prefixes = tuple(prefixes)
        own = {k: v for k, v in own.items() if k.startswith(prefixes)}
        state = {k: v for k, v in state.items() if k.startswith(prefixes)}
        if not own:
            raise WeightsMismatchError(f"{source}: {type(module).__name__} has no keys under "
                                       f"{', '.join(prefixes)}")
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    reshaped = [f"{k} {tuple(state[k].shape)} in the file, {tuple(own[k].shape)} in the model"
                for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or reshaped:
        what = type(module).__name__
        parts = [f"{label} {len(keys)}: {_preview(keys)}" for label, keys in (
            ("missing from the file", missing), ("not in the model", unexpected),
            ("other shapes", reshaped)) if keys]
        raise WeightsMismatchError(f"{source}: does not fit {what} -- " + "; ".join(parts))
    module.load_state_dict(state, strict=False)


# --------------------------------------------------------------- what a backbone starts from

def file_sha256(path: PathLike) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def init_record(path: Optional[PathLike]) -> Dict[str, str]:
    """``{'weights': file name, 'sha256': ...}`` for a weight file, ``{'weights': 'random'}`` without."""
    if path is None:
        return {"weights": "random"}
    return {"weights": Path(path).name, "sha256": file_sha256(path)}


def _backbones(model: torch.nn.Module):
    """Modules that start from a weight file (they carry ``init_record``), outermost first."""
    return [m for m in model.modules() if isinstance(getattr(m, "init_record", None), dict)]


def backbone_init(model: torch.nn.Module) -> Dict[str, str]:
    """How the model's backbone was initialised, for result rows and checkpoints:
    ``{'weights': 'senet50_ft.pth', 'sha256': '...'}`` or ``{'weights': 'random'}``
    (also for a model with no backbone, which starts from random weights)."""
    found = _backbones(model)
    return dict(found[0].init_record) if found else {"weights": "random"}


class RandomFrozenInitError(ValueError):
    """Frozen layers that would stay random; the message names the fix."""


def check_frozen_init(model: torch.nn.Module, allow_random_init: bool = False) -> None:
    """Refuse to train a backbone whose frozen stages hold random weights.

    A backbone with ``frozen_stages > 0`` and no weight file would keep a
    random stem (and more) fixed for the whole run. Allowed only when the user
    says so (``allow_random_init=True``, ``--allow-random-init``).
    """
    if allow_random_init:
        return
    for backbone in _backbones(model):
        frozen = int(getattr(backbone, "frozen_stages", 0) or 0)
        if frozen and backbone.init_record.get("weights") == "random":
            fix = getattr(backbone, "weights_fix", lambda: "")()
            raise RandomFrozenInitError(
                f"{type(backbone).__name__} has frozen_stages={frozen} but no weight file "
                "(model.backbone.weights=None): its frozen layers would stay random for the "
                f"whole run. {fix}Or train every stage (model.backbone.frozen_stages=0), or "
                "train it anyway, on purpose, with --allow-random-init (config key "
                "allow_random_init=True); the result then records 'random'.")


# The VGGFace2 pickle reader and converter live beside the backbone they feed.
from auzoo.models.backbones.vggface2_weights import (  # noqa: E402
    NumpyUnpickler, UnsafePickleError, convert_cli, convert_vggface2_senet50, convert_weights,
    load_numpy_pickle, vggface2_to_backbone_name)

__all__ = ["NumpyUnpickler", "UnsafePickleError", "RandomFrozenInitError", "WeightsMismatchError",
           "backbone_init", "check_frozen_init", "file_sha256", "init_record",
           "load_state_dict_strict", "convert_cli", "convert_vggface2_senet50",
           "convert_weights", "load_numpy_pickle", "load_state_dict_file",
           "vggface2_to_backbone_name"]
