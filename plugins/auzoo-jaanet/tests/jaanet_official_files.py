"""Write an auzoo JAANet as the authors' code saves its six modules (test helper).

Names and per-patch / per-AU splits follow ZhiwenShao/PyTorch-JAANet's
network.py: ``HMRegionLearning.multiscale_feat``, ``LocalConv2dReLU.bns/convs``
(one per patch, row-major), ``AlignNet.align_feat.feat_extract`` and
``align_output``, ``LocalAttentionRefine.local_aus_attention`` and
``LocalAUNetv1.local_aus_branch`` (one per AU), ``HLFeatExtractor.feat_extract``,
``AUNet.au_output``; files ``{module}_{epoch}.pth``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import torch

PATCHES = {0: 64, 1: 16, 2: 4}  # 8x8, 4x4, 2x2 patches


def _split(value: torch.Tensor, count: int, key: str):
    if key.endswith("num_batches_tracked"):
        return [value.clone() for _ in range(count)]
    return list(value.chunk(count))


def official_states(model, version: str = "v1") -> Dict[str, Dict[str, torch.Tensor]]:
    sd = model.state_dict()
    n = len(model.aus)
    out: Dict[str, Dict[str, torch.Tensor]] = {m: {} for m in (
        "region_learning", "align_net", "local_attention_refine", "local_au_net",
        "global_au_feat", "au_net")}
    for key, value in sd.items():
        parts = key.split(".")
        if key.startswith("region.body."):
            layer, rest = parts[2], parts[3:]
            if rest[0] in ("conv", "norm"):
                name = "bn" if rest[0] == "norm" else "conv"
                out["region_learning"][f"multiscale_feat.{layer}.{name}.{'.'.join(rest[1:])}"] = value
            else:  # scales.B.{norm,conv}.param
                branch, kind, param = int(rest[1]), rest[2], ".".join(rest[3:])
                theirs = "bns" if kind == "norm" else "convs"
                for k, piece in enumerate(_split(value, PATCHES[branch], key)):
                    out["region_learning"][f"multiscale_feat.{layer}.local_conv_branch{branch + 1}."
                                           f"{theirs}.{k}.{param}"] = piece
        elif key.startswith("align_trunk."):
            out["align_net"]["align_feat.feat_extract." + key[len("align_trunk."):]] = value
        elif key.startswith("align_head."):
            out["align_net"]["align_output." + key[len("align_head."):]] = value
        elif key.startswith("global_trunk."):
            out["global_au_feat"]["feat_extract." + key[len("global_trunk."):]] = value
        elif key.startswith("classifier."):
            out["au_net"]["au_output." + key[len("classifier."):]] = value
        elif key.startswith("attention_refine.net."):
            rest = key[len("attention_refine.net."):]
            for a, piece in enumerate(_split(value, n, key)):
                out["local_attention_refine"][f"local_aus_attention.{a}.{rest}"] = piece
        elif key.startswith("local_trunks."):
            rest = key[len("local_trunks."):]
            for a, piece in enumerate(_split(value, n, key)):
                out["local_au_net"][f"local_aus_branch.{a}.feat_extract.{rest}"] = piece
        else:
            raise KeyError(key)
    if version == "v2":  # J^AA-Net's per-AU local heads: Linear(4000, 64), Linear(64, 2)
        for a in range(n):
            out["local_au_net"].update({
                f"local_aus_output.{a}.0.weight": torch.randn(64, 4000),
                f"local_aus_output.{a}.0.bias": torch.randn(64),
                f"local_aus_output.{a}.1.weight": torch.randn(2, 64),
                f"local_aus_output.{a}.1.bias": torch.randn(2)})
    return out


def write_official(model, folder: Path, epoch: int = 5, version: str = "v1") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for module, state in official_states(model, version).items():
        torch.save(state, folder / f"{module}_{epoch}.pth")
    return folder
