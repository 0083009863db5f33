"""Loading the official ME-GraphAU checkpoints (``MEFARG_*.pth``) into auzoo's model.

The official loaders strip a ``module.`` prefix and call ``load_state_dict``
non-strictly, so a file whose names do not match loads nothing and says
nothing. Here every official name is renamed by the rules below and loaded
strictly: a missing, unexpected or mis-shaped key is an error that lists them.

Released checkpoints are trained on two of the three folds and tested on the
third; which one is not in the file. Score a checkpoint only on the test part
it was trained for (DISFA: fold 1 tests part 3, fold 2 part 2, fold 3 part 1).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Mapping, Tuple

from torch import Tensor, nn

from auzoo_megraphau.weights import load_strict, read_state_dict

# (official pattern, auzoo replacement), applied in order, first match wins.
_HEAD_RULES: Tuple[Tuple[str, str], ...] = (
    (r"^global_linear\.", "reduction."),
    (r"^head\.class_linears\.(\d+)\.", r"afg.generators.\1."),
    (r"^head\.sc$", "classifier.weight"),
    # stage 1 (ANFL): X' = ReLU(X + BN(V(X) aggregated + U(X)))
    (r"^head\.gnn\.U\.", "graph.self_loop."),
    (r"^head\.gnn\.V\.", "graph.neighbour."),
    (r"^head\.gnn\.bnv\.", "graph.bn."),
    # stage 2 (MEFL)
    (r"^head\.edge_extractor\.FAM\.linear_([qkv])\.", r"graph.gem.fam.\1."),
    (r"^head\.edge_extractor\.ARM\.linear_([qkv])\.", r"graph.gem.arm.\1."),
    (r"^head\.edge_extractor\.edge_proj\.", "graph.gem.proj."),
    (r"^head\.edge_extractor\.bn\.", "graph.gem.bn."),
    (r"^head\.edge_fc\.", "graph.edge_head."),
)
_GCN_NAMES = dict(A="end_in", B="start_in", E="edge_in", U="self_loop", V="message",
                  bnv="bn_node", bne="bn_edge")
_QKV = dict(q="query", k="key", v="value")
# Buffers the official Swin saves that timm recomputes.
_DROPPED = re.compile(r"(relative_position_index|attn_mask)$")


def _rename_head(key: str) -> str:
    m = re.match(r"^head\.gnn\.(A|B|E|U|V|bnv|bne)([12])\.(.*)$", key)
    if m:
        return f"graph.gcn.{int(m.group(2)) - 1}.{_GCN_NAMES[m.group(1)]}.{m.group(3)}"
    for pattern, replacement in _HEAD_RULES:
        if re.match(pattern, key):
            key = re.sub(pattern, replacement, key)
            m = re.match(r"^(graph\.gem\.(?:fam|arm))\.([qkv])\.(.*)$", key)
            return f"{m.group(1)}.{_QKV[m.group(2)]}.{m.group(3)}" if m else key
    return key


def _rename_backbone(key: str, swin: bool) -> str:
    rest = key[len("backbone."):]
    if swin:
        if rest.startswith("norm."):
            return "token_norm." + rest[len("norm."):]
        # timm merges patches at the start of the next stage, the official code
        # at the end of the stage; timm's feature net names stage i 'layers_i'.
        rest = re.sub(r"^layers\.(\d+)\.downsample\.",
                      lambda m: f"layers.{int(m.group(1)) + 1}.downsample.", rest)
        rest = re.sub(r"^layers\.(\d+)\.", r"layers_\1.", rest)
    return "backbone.body." + rest


def official_to_auzoo(state: Mapping[str, Tensor], swin: bool) -> Dict[str, Tensor]:
    """Rename an official MEFARG state dict (stage 1 or 2) to auzoo's MEGraphAU names."""
    out: Dict[str, Tensor] = {}
    for key, value in state.items():
        key = key[len("module."):] if key.startswith("module.") else key
        if _DROPPED.search(key):
            continue
        new = _rename_backbone(key, swin) if key.startswith("backbone.") else _rename_head(key)
        if new in out:
            raise ValueError(f"two official keys map to {new}")
        out[new] = value
    return out


def load_official_checkpoint(model: nn.Module, path) -> None:
    """Load an official ME-GraphAU checkpoint into a MEGraphAU built with the
    matching config (backbone, AUs, stage); strict, see the module docstring."""
    path = Path(path)
    swin = bool(getattr(model, "nhwc", False))
    state = official_to_auzoo(read_state_dict(path), swin=swin)
    load_strict(model, state, str(path))


__all__ = ["load_official_checkpoint", "official_to_auzoo"]
