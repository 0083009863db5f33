"""VGGFace2 SENet-50 weights: the authors' pickles, read safely, and their
conversion to a state dict the ``VGGFace2SENet50`` backbone loads strictly.

The VGGFace2 files (``senet50_ft_weight.pkl``, ``senet50_scratch_weight.pkl``)
are pickled dicts ``name -> numpy array`` converted from the authors' Caffe
models, read here with an unpickler that can build numpy arrays and nothing
else. :func:`convert_vggface2_senet50` renames them onto the backbone, whose
parameter names are the pickle's own except the SE layers
(``layerX.Y.conv4 -> layerX.Y.se.fc1``, ``conv5 -> se.fc2``), and drops the
8631-identity classifier ``fc``. ``auzoo convert-weights`` runs it.
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
        raise ValueError(f"{dst} exists; pass overwrite=True to replace it")
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


__all__ = ["NumpyUnpickler", "UnsafePickleError", "convert_cli", "convert_vggface2_senet50",
           "convert_weights", "load_numpy_pickle", "vggface2_to_backbone_name"]
