"""Safe loading of weight files, and the VGGFace2 SENet-50 pickle converter.

Every weight file a user hands auzoo is read without running code from it:
PyTorch files with ``torch.load(weights_only=True)`` (through timm's loader,
which also reads ``.safetensors`` and unwraps ``state_dict`` / ``model`` /
EMA entries and ``module.`` prefixes), and the VGGFace2 SENet-50 pickles with
an unpickler that can build numpy arrays and nothing else.

The VGGFace2 files (``senet50_ft_weight.pkl``, ``senet50_scratch_weight.pkl``)
are pickled dicts ``name -> numpy array`` converted from the authors' Caffe
models. :func:`convert_vggface2_senet50` renames them onto the
``VGGFace2SENet50`` backbone, whose parameter names are the pickle's own
except the SE layers (``layerX.Y.conv4 -> layerX.Y.se.fc1``,
``conv5 -> se.fc2``), and drops the 8631-identity classifier ``fc``.
"""
from __future__ import annotations

import os
import pickle
import re
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Dict, Mapping, Optional, Union

import numpy as np
import torch

PathLike = Union[str, os.PathLike]


# --------------------------------------------------------------- numpy-only pickles

def _numpy_module(name: str):
    # numpy 2 renamed numpy.core to numpy._core; importing the old name warns.
    import importlib

    try:
        return importlib.import_module(name.replace("numpy.core", "numpy._core", 1))
    except ImportError:
        return importlib.import_module(name)


# Everything a pickled numpy array (protocols 0-5, Python 2 or 3) refers to.
# Each is a constructor of arrays, dtypes or scalars, or bytes <- str: none
# can reach the file system, import a module or call arbitrary code.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
    ("collections", "OrderedDict"),
}


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle refers to something other than numpy arrays; nothing was run."""


class NumpyUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays, dicts, lists and scalars only.

    Any other global (a function, a class, a module) raises
    :class:`UnsafePickleError` before it is looked up, let alone called.
    """

    def __init__(self, file, *, source: str = "<pickle>", **kwargs):
        super().__init__(file, **kwargs)
        self.source = source

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"{self.source}: refused: the pickle refers to {module}.{name}, and a "
                "weight file may contain numpy arrays only. Nothing from it was run.")
        if module == "_codecs":
            import _codecs

            return _codecs.encode
        if module == "collections":
            return OrderedDict
        return getattr(_numpy_module(module), name)

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.source}: refused: the pickle holds persistent ids")


def load_numpy_pickle(path: PathLike, encoding: str = "latin1") -> Dict[str, np.ndarray]:
    """A pickled ``dict name -> numpy array`` (e.g. the VGGFace2 weight files), safely.

    ``encoding='latin1'`` reads pickles written by Python 2, as the VGGFace2
    files were. Anything but a dict of numeric arrays is refused, naming
    the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    with open(path, "rb") as f:
        try:
            obj = NumpyUnpickler(f, source=str(path), encoding=encoding).load()
        except UnsafePickleError:
            raise
        except Exception as exc:  # truncated or not a pickle at all
            raise ValueError(f"{path}: not a readable pickle of numpy arrays ({exc})") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a dict of parameter name -> array, "
                         f"found a {type(obj).__name__}")
    for key, value in obj.items():
        if not isinstance(key, str):
            raise ValueError(f"{path}: parameter names must be strings, found {key!r}")
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
            kind = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise ValueError(f"{path}: '{key}' is {kind}, not a numeric array")
    return obj


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
                           source: str) -> None:
    """Load ``state`` into ``module`` when every key fits, else raise one error
    that names ``source`` and lists the missing, unexpected and mis-shaped keys.

    The one way auzoo loads weights into a module (backbone weight files,
    checkpoints, stage-2 initialisation). BatchNorm ``num_batches_tracked``
    counters may be missing (weights converted from Caffe have none): they are
    bookkeeping, not weights.
    """
    own = module.state_dict()
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


# --------------------------------------------------------------- VGGFace2 SENet-50

_SE_RENAME = re.compile(r"^(layer\d+\.\d+)\.conv([45])\.")


def vggface2_to_backbone_name(name: str) -> Optional[str]:
    """The backbone's name for a VGGFace2 pickle entry; None for the classifier."""
    if name.startswith("fc."):
        return None
    return _SE_RENAME.sub(lambda m: f"{m[1]}.se.fc{int(m[2]) - 3}.", name)


def _backbone_state() -> Dict[str, torch.Tensor]:
    from auzoo import registry

    backbone = registry.build_part(registry.BACKBONES,
                                   dict(type="VGGFace2SENet50", weights=None, frozen_stages=0))
    return backbone.state_dict()


def convert_vggface2_senet50(weights: Mapping[str, np.ndarray], source: str = "<weights>",
                             target: Optional[Mapping[str, torch.Tensor]] = None
                             ) -> "OrderedDict[str, torch.Tensor]":
    """VGGFace2 pickle entries -> a state dict the ``VGGFace2SENet50`` backbone loads strictly.

    ``target`` is the backbone's state dict (default: a freshly built
    backbone's). Names missing from the pickle, names the backbone does not
    have, and shape differences are all reported at once, naming ``source``.
    BatchNorm ``num_batches_tracked`` counters, which the Caffe models lack,
    are added as zeros.
    """
    target = _backbone_state() if target is None else target
    renamed: Dict[str, np.ndarray] = {}
    for name, array in weights.items():
        new = vggface2_to_backbone_name(name)
        if new is not None:
            renamed[new] = array
    wanted = [k for k in target if not k.endswith("num_batches_tracked")]
    missing = [k for k in wanted if k not in renamed]
    unexpected = [k for k in renamed if k not in target]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)}: {', '.join(unexpected)}")
    state: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for key, ref in target.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros_like(ref)
            continue
        if key not in renamed:
            continue
        array = renamed[key]
        if tuple(array.shape) != tuple(ref.shape):
            # A 1x1 conv and a linear layer hold the same numbers.
            if array.size == ref.numel() and [d for d in array.shape if d != 1] == \
                    [d for d in ref.shape if d != 1]:
                array = array.reshape(tuple(ref.shape))
            else:
                problems.append(f"shape of {key}: {tuple(array.shape)} in the file, "
                                f"{tuple(ref.shape)} in the backbone")
                continue
        state[key] = torch.from_numpy(np.ascontiguousarray(array)).to(ref.dtype)
    if problems:
        raise ValueError(f"{source}: does not match the VGGFace2SENet50 backbone; "
                         + "; ".join(problems))
    return state


def _atomic_save(obj, dst: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def convert_weights(src: PathLike, dst: PathLike, overwrite: bool = False) -> Dict[str, torch.Tensor]:
    """Convert a VGGFace2 SENet-50 pickle to a ``.pth`` state dict, written atomically."""
    src, dst = Path(src), Path(dst)
    if dst.exists() and dst.resolve() == src.resolve():
        raise ValueError(f"{dst}: the output would overwrite the input")
    if dst.exists() and not overwrite:
        raise ValueError(f"{dst} exists; pass --force to replace it")
    state = convert_vggface2_senet50(load_numpy_pickle(src), source=str(src))
    dst.parent.mkdir(parents=True, exist_ok=True)
    _atomic_save(state, dst)
    return state


def convert_cli(args) -> int:
    state = convert_weights(args.src, args.dst, overwrite=getattr(args, "force", False))
    n_params = sum(t.numel() for k, t in state.items() if not k.endswith("num_batches_tracked"))
    print(f"wrote {args.dst}: {len(state)} tensors, {n_params / 1e6:.2f} M numbers, "
          f"for model.backbone.weights={args.dst}")
    return 0


__all__ = ["NumpyUnpickler", "UnsafePickleError", "RandomFrozenInitError", "WeightsMismatchError",
           "backbone_init", "check_frozen_init", "file_sha256", "init_record",
           "load_state_dict_strict", "convert_cli", "convert_vggface2_senet50",
           "convert_weights", "load_numpy_pickle", "load_state_dict_file",
           "vggface2_to_backbone_name"]
