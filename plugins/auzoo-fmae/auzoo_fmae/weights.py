"""Weights for FMAE's ViT: the released face-MAE pre-training checkpoints, or timm's.

A face-MAE pre-training checkpoint (``checkpoint-<epoch>.pth`` of the
official MAE code) is a dict with ``model`` (the whole masked autoencoder:
the encoder under timm's ViT names, ``mask_token`` and the ``decoder_*``
layers), ``optimizer``, ``epoch``, ``scaler`` and ``args`` (an
``argparse.Namespace``). It is read with ``torch.load(weights_only=True)``,
with ``argparse.Namespace`` the one class allowed besides tensors and plain
containers. A timm ViT classification file (``.pth``/``.safetensors``) has the
same encoder names plus ``norm.*`` and ``head.*``.

What is taken and what is left, key by key:

* every encoder key (``cls_token``, ``pos_embed``, ``patch_embed.*``,
  ``blocks.*``) must be in the file with the model's shape; ``pos_embed`` of
  another patch grid is resampled (bicubic, as the official fine-tuning does);
* ``fc_norm.*`` is taken when the file has it, else it starts fresh;
* the keys FMAE does not use are dropped by name: the MAE decoder
  (``decoder_*``) and ``mask_token``, the final ``norm.*`` of a class-token
  ViT (FMAE pools the patch tokens and normalises them with ``fc_norm``, and
  deletes ``norm``), and a classifier ``head.*``;
* anything else, a missing encoder key or another shape is an error that names
  the file and the keys, where the official loader (``strict=False``) would
  have loaded around them in silence.
"""
from __future__ import annotations

import argparse
import math
from typing import Dict, List, Mapping, Tuple

import torch
from torch import Tensor, nn

# Keys of a file that FMAE's ViT does not use, and why.
DROPPED = {
    "decoder_": "MAE decoder",
    "mask_token": "MAE mask token",
    "norm.": "final LayerNorm of a class-token ViT (FMAE pools and uses fc_norm)",
    "head.": "classifier of another task",
}
FRESH = ("fc_norm.",)  # taken when present, else left as initialised


def read_weight_file(path) -> Dict[str, Tensor]:
    """The state dict of a weight file, read without running code from it.

    An official pre-training checkpoint's ``args`` (an ``argparse.Namespace``)
    is the one object besides tensors and plain containers allowed to load."""
    from auzoo.weights import load_state_dict_file

    with torch.serialization.safe_globals([argparse.Namespace]):
        return load_state_dict_file(path)


def _dropped(key: str) -> bool:
    return any(key == p or key.startswith(p) for p in DROPPED)


def _grid(tokens: int, prefix: int, source: str) -> int:
    side = math.isqrt(tokens - prefix)
    if side * side != tokens - prefix:
        raise ValueError(f"{source}: pos_embed has {tokens} tokens, not {prefix} + a square grid")
    return side


def resample_pos_embed(pos_embed: Tensor, target: Tensor, prefix: int, source: str) -> Tensor:
    """``pos_embed`` (1, prefix + G*G, D) on the target's grid (1, prefix + g*g, D):
    the patch part resized bicubically (align_corners False, no antialiasing, as
    the official ``interpolate_pos_embed``), the class token kept."""
    from timm.layers import resample_abs_pos_embed

    if pos_embed.shape == target.shape:
        return pos_embed
    if pos_embed.dim() != 3 or pos_embed.shape[-1] != target.shape[-1]:
        raise ValueError(f"{source}: pos_embed {tuple(pos_embed.shape)} in the file, "
                         f"{tuple(target.shape)} in the model (another width)")
    old, new = _grid(pos_embed.shape[1], prefix, source), _grid(target.shape[1], prefix, source)
    return resample_abs_pos_embed(pos_embed, new_size=[new, new], old_size=[old, old],
                                  num_prefix_tokens=prefix, interpolation="bicubic",
                                  antialias=False)


def vit_state(vit: nn.Module, state: Mapping[str, Tensor], source: str) -> Tuple[Dict[str, Tensor], dict]:
    """The state dict to load into ``vit`` from a file's ``state``, and a record of
    what was done (format, keys dropped, position embedding resampled).

    Raises :class:`auzoo.weights.WeightsMismatchError` naming ``source`` and the
    keys when the file is not an encoder of this ViT."""
    from auzoo.weights import WeightsMismatchError

    own = vit.state_dict()
    prefix = int(getattr(vit, "num_prefix_tokens", 1))
    taken: Dict[str, Tensor] = {}
    dropped: List[str] = []
    unexpected: List[str] = []
    reshaped: List[str] = []
    record: Dict[str, object] = {}
    for key, value in state.items():
        if key in own:
            if key == "pos_embed" and value.shape != own[key].shape:
                try:
                    value = resample_pos_embed(value, own[key], prefix, source)
                except ValueError as exc:
                    reshaped.append(str(exc).split(": ", 1)[-1])
                    continue
                record["pos_embed"] = f"resampled {tuple(state[key].shape)} -> {tuple(own[key].shape)}"
            elif tuple(value.shape) != tuple(own[key].shape):
                reshaped.append(f"{key} {tuple(value.shape)} in the file, {tuple(own[key].shape)} "
                                "in the model")
                continue
            taken[key] = value
        elif _dropped(key):
            dropped.append(key)
        else:
            unexpected.append(key)
    missing = [k for k in own if k not in taken and not k.startswith(FRESH)
               and not any(r.startswith(f"{k} ") for r in reshaped)]
    if missing or unexpected or reshaped:
        parts = [f"{label} {len(keys)}: {_preview(keys)}" for label, keys in (
            ("missing from the file", missing), ("not a ViT encoder key", unexpected),
            ("other shapes", reshaped)) if keys]
        raise WeightsMismatchError(
            f"{source}: not the encoder of this ViT ({type(vit).__name__}, "
            f"{len(getattr(vit, 'blocks', []))} blocks, width {getattr(vit, 'embed_dim', '?')}) -- "
            + "; ".join(parts) + ". FMAE takes a face-MAE pre-training checkpoint of the same "
            "size (ViT-B or ViT-L, patch 16) or timm's classification weights of that ViT.")
    for key in own:
        if key.startswith(FRESH) and key not in taken:
            taken[key] = own[key]  # left as initialised, so the strict load below sees every key
    mae = any(k.startswith("decoder_") or k == "mask_token" for k in state)
    record.update(format="face-MAE pre-training" if mae else "ViT classification",
                  dropped=sorted({_group(k) for k in dropped}),
                  fc_norm="from the file" if any(k.startswith(FRESH) for k in state) else "fresh")
    return taken, record


def _preview(names: List[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _group(key: str) -> str:
    for p in DROPPED:
        if key == p or key.startswith(p):
            return p.rstrip(".") + ("*" if p.endswith((".", "_")) else "")
    return key


def load_vit_weights(vit: nn.Module, path) -> dict:
    """Read ``path`` and load its encoder into ``vit`` strictly; returns the record."""
    from auzoo.weights import load_state_dict_strict

    state, record = vit_state(vit, read_weight_file(path), str(path))
    load_state_dict_strict(vit, state, str(path))
    return record


__all__ = ["DROPPED", "load_vit_weights", "read_weight_file", "resample_pos_embed", "vit_state"]
