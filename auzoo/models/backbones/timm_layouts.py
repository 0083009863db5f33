"""Classification weights saved in another layout than timm's, renamed to it.

timm's hub files are in timm's own layout and load as they are. The Swin
Transformer's official repository (microsoft/Swin-Transformer) saves
``{'model': state_dict}`` in its own: patch merging at the *end* of each
stage (``layers.i.downsample.*``, where timm merges at the start of the next,
``layers.(i+1).downsample.*``), the attention buffers
(``relative_position_index``, ``attn_mask``) that timm recomputes, and a
classifier ``head.*`` (timm's ``head.fc.*``). :func:`to_timm_layout` renames
such a file by those rules and lists what it drops; every other tensor must
then fit timm's model exactly (the caller loads strictly), so a file of
another architecture is still refused with its keys.
"""
from __future__ import annotations

import re
from typing import Dict, List, Mapping, Tuple

from torch import Tensor, nn

# Buffers the official Swin saves and timm rebuilds from the window size.
_SWIN_BUFFERS = re.compile(r"\.(relative_position_index|attn_mask)$")
_SWIN_MERGING = re.compile(r"^layers\.(\d+)\.downsample\.")


def is_official_swin(model: nn.Module, state: Mapping[str, Tensor]) -> bool:
    """A timm Swin and a file that merges patches in stage 0 (timm's stage 0 never does)."""
    from timm.models.swin_transformer import SwinTransformer

    return isinstance(model, SwinTransformer) and any(k.startswith("layers.0.downsample.")
                                                      for k in state)


def official_swin_to_timm(state: Mapping[str, Tensor]) -> Tuple[Dict[str, Tensor], List[str]]:
    """``(state in timm's names, dropped keys)`` of an official Swin state dict:
    patch merging moved to the next stage; the recomputed buffers and the
    classifier ``head.*`` dropped (a feature net has no classifier)."""
    out: Dict[str, Tensor] = {}
    dropped: List[str] = []
    for key, value in state.items():
        if _SWIN_BUFFERS.search(key) or key.startswith("head."):
            dropped.append(key)
            continue
        out[_SWIN_MERGING.sub(lambda m: f"layers.{int(m.group(1)) + 1}.downsample.", key)] = value
    return out, dropped


def to_timm_layout(model: nn.Module, state: Mapping[str, Tensor]
                   ) -> Tuple[Dict[str, Tensor], Dict[str, object]]:
    """``state`` in the names of the timm classification ``model``, and a record
    of the layout it came in: ``{'layout': 'timm'}``, or ``{'layout':
    'official Swin', 'dropped': N, 'classifier': 'dropped'}``. The classifier
    of a converted file is dropped: the caller fills ``model``'s own in (the
    feature net does not use it)."""
    if is_official_swin(model, state):
        renamed, dropped = official_swin_to_timm(state)
        return renamed, {"layout": "official Swin (microsoft/Swin-Transformer)",
                         "dropped": len(dropped), "classifier": "dropped"}
    return dict(state), {"layout": "timm"}


__all__ = ["is_official_swin", "official_swin_to_timm", "to_timm_layout"]
