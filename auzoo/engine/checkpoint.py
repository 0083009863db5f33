"""Checkpoints that know what they are, and safe loading of mmengine's own.

An auzoo checkpoint is ``{'meta': dict, 'state_dict': dict}`` written with
``torch.save`` and read back with ``torch.load(weights_only=True)``: the meta
holds plain Python types only (strings, numbers, lists, dicts), so loading a
file a user hands in never runs code. The meta says which model (its resolved
config as text), which AUs, which fold and the exact subject lists it trained,
selected and was scored on, the bad-frame policy, the data checksum, the image
size, the software versions, the device, and the chosen epoch with its scores.

mmengine 0.10.7 pickles a ``HistoryBuffer`` (with its statistics methods,
written as ``getattr(HistoryBuffer, 'mean')``) and numpy scalars into its
training checkpoints, which ``torch.load`` refuses by default since torch 2.6.
:func:`mmengine_safe_globals` allow-lists exactly those objects, for the
duration of loading one of mmengine's own checkpoints.
"""
from __future__ import annotations

import contextlib
import pickle
import platform
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping, Tuple

import numpy as np
import torch

from auzoo.utils.io import atomic_write  # noqa: F401  (re-exported)

FORMAT = "auzoo-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file."""


class NotAnAuzooCheckpoint(CheckpointError):
    """A readable file that is not an auzoo checkpoint (maybe another code base's weights)."""


# --------------------------------------------------------------------------
# mmengine's training checkpoints (resume)
# --------------------------------------------------------------------------

_HISTORY_STATISTICS = ("min", "max", "mean", "current")


def _history_buffer_statistic(owner, name: str):
    """Stands in for ``builtins.getattr`` while unpickling an mmengine
    checkpoint: it resolves ``HistoryBuffer``'s statistics methods, the only
    ``getattr`` mmengine writes, and refuses anything else."""
    from mmengine.logging import HistoryBuffer

    if owner is HistoryBuffer and name in _HISTORY_STATISTICS:
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f"refusing getattr({getattr(owner, '__name__', owner)!r}, {name!r}) in a checkpoint")


def _mmengine_allow_list() -> list:
    from mmengine.logging import HistoryBuffer

    multiarray = np._core.multiarray
    numeric_dtypes = sorted({type(np.dtype(c)) for c in "?bBhHiIlLqQefdgFDG"}, key=str)
    return [
        HistoryBuffer,
        (_history_buffer_statistic, "builtins.getattr"),
        # numpy arrays and scalars in HistoryBuffer and runtime info (best_score)
        np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar,
        # the same, as numpy 1.x names them
        (multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
        (multiarray.scalar, "numpy.core.multiarray.scalar"),
        *numeric_dtypes,
    ]


@contextlib.contextmanager
def mmengine_safe_globals() -> Iterator[None]:
    """Allow what mmengine 0.10.7 writes into its checkpoints, and nothing
    else, inside this block (``weights_only`` stays on)."""
    with torch.serialization.safe_globals(_mmengine_allow_list()):
        yield


# --------------------------------------------------------------------------
# auzoo checkpoints
# --------------------------------------------------------------------------

def software_versions() -> Dict[str, str]:
    import mmengine
    import timm

    import auzoo

    return {"auzoo": auzoo.__version__, "torch": torch.__version__, "timm": timm.__version__,
            "mmengine": mmengine.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def device_name(device: Any) -> str:
    """A readable device description for result files: 'cpu (x86_64)',
    'cuda:0 (NVIDIA H100 80GB HBM3)'."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"{device.type} ({platform.machine()})"


def plain(obj: Any, where: str = "meta") -> Any:
    """``obj`` as plain Python types that ``weights_only`` loading accepts
    (numpy scalars and arrays become numbers and lists, tuples and paths
    become lists and strings); anything else is an error."""
    if obj is None:
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    for kind in (bool, int, float, str):  # subclasses (TorchVersion, np.float64) too
        if isinstance(obj, kind):
            return kind(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): plain(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise TypeError(f"{where}: {type(obj).__name__} is not a plain type a checkpoint may hold")


def save_checkpoint(path, state_dict: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> Path:
    """Write an auzoo checkpoint atomically. ``meta`` must hold plain types."""
    meta = plain(dict(meta))
    meta.update(format=FORMAT, format_version=FORMAT_VERSION)
    state = {k: v.detach().cpu() for k, v in state_dict.items()}
    atomic_write(path, lambda tmp: torch.save({"meta": meta, "state_dict": state}, tmp))
    return Path(path)


def load_checkpoint(path, map_location="cpu") -> Tuple[Dict[str, Any], Dict[str, torch.Tensor]]:
    """``(meta, state_dict)`` of an auzoo checkpoint, loaded with
    ``weights_only=True``. Errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: not an auzoo checkpoint, or it holds objects other than tensors and "
            f"plain values, which auzoo does not unpickle ({first})") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint ({exc})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise NotAnAuzooCheckpoint(f"{path}: not an auzoo checkpoint (no 'state_dict')")
    meta = ckpt.get("meta") or {}
    if meta.get("format") != FORMAT:
        if "message_hub" in ckpt:
            raise CheckpointError(
                f"{path}: this is an mmengine training checkpoint (used by --resume); "
                "the model to evaluate or predict with is best.pth in the same folder")
        raise NotAnAuzooCheckpoint(f"{path}: not an auzoo checkpoint (meta has no format '{FORMAT}')")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer auzoo (format version "
                              f"{meta['format_version']} > {FORMAT_VERSION})")
    return meta, ckpt["state_dict"]


def model_config(meta: Mapping[str, Any]):
    """The mmengine Config stored in a checkpoint's meta."""
    from mmengine.config import Config

    return Config.fromstring(meta["config"], file_format=".py")


def build_from_checkpoint(path, model=None, map_location="cpu"):
    """The trained model of an auzoo checkpoint, in eval mode.

    With ``model=None`` the config stored in the checkpoint builds it (pretrained
    backbone weights are not loaded: the checkpoint holds every weight).
    ``model`` may be a name, a config or an already built model; it must
    predict the checkpoint's AUs with the checkpoint's architecture, or a
    :class:`CheckpointError` naming the file says what differs.
    """
    import auzoo
    from auzoo.config import model_name

    meta, state_dict = load_checkpoint(path, map_location=map_location)
    if model is None:
        cfg = model_config(meta)
        _drop_pretrained(cfg.get("model"))
        model = auzoo.build_model(cfg)
        model.name = meta.get("model", model_name(cfg))
    elif not isinstance(model, torch.nn.Module):
        model = auzoo.build_model(model)
    aus = tuple(int(a) for a in meta.get("aus", ()))
    model_aus = tuple(int(a) for a in getattr(model, "aus", ()))
    if aus and model_aus != aus:
        raise CheckpointError(f"{path}: checkpoint predicts AUs {aus}, the model "
                              f"'{getattr(model, 'name', type(model).__name__)}' predicts {model_aus}")
    from auzoo.weights import WeightsMismatchError, load_state_dict_strict
    try:
        load_state_dict_strict(model, state_dict, f"{path} (model '{meta.get('model', '?')}')")
    except WeightsMismatchError as exc:
        raise CheckpointError(f"{exc} -- the checkpoint does not fit the model "
                              f"'{getattr(model, 'name', type(model).__name__)}'") from None
    model.checkpoint_meta = meta
    return model.eval()


# Keys under which a part may name a pretrained weight file or ask for a
# download; a model rebuilt from a checkpoint needs neither.
_PRETRAINED_KEYS = ("weights", "pretrained", "checkpoint_path", "init_weights")


def _drop_pretrained(section) -> None:
    if section is None:
        return
    if isinstance(section, dict):
        for key in list(section):
            if key in _PRETRAINED_KEYS and isinstance(section[key], (str, bool)):
                section[key] = None if isinstance(section[key], str) else False
            else:
                _drop_pretrained(section[key])
    elif isinstance(section, (list, tuple)):
        for item in section:
            _drop_pretrained(item)


__all__ = ["CheckpointError", "NotAnAuzooCheckpoint", "atomic_write", "build_from_checkpoint",
           "device_name", "load_checkpoint", "mmengine_safe_globals", "model_config",
           "plain", "save_checkpoint", "software_versions"]
