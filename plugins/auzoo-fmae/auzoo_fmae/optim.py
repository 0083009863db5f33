"""Layer-wise learning-rate decay for ViTs, as an mmengine optimizer-wrapper constructor.

The official fine-tuning (MAE's ``param_groups_lrd``) gives every parameter a
layer id: 0 for the patch embedding, class token and position embedding,
i + 1 for block i, and L + 1 (L blocks) for everything after the blocks
(``fc_norm``, the AU and identity heads). A parameter's learning rate is the
base rate times ``decay ** (L + 1 - id)``. Parameters with one dimension
(biases, LayerNorm weights) and the position embedding and class token get
no weight decay. A config asks for it with::

    optim_wrapper = dict(
        optimizer=dict(type='AdamW', lr=1.25e-4, weight_decay=0.05),
        constructor='LayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay_rate=0.65))

mmengine's parameter schedulers then scale each group from its own initial
rate, so warm-up and cosine keep the per-layer ratios, as the official
``lr * lr_scale`` does.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from auzoo.registry import OPTIM_WRAPPER_CONSTRUCTORS

_BLOCK = re.compile(r"(?:^|\.)blocks\.(\d+)\.")
_EMBEDDING = re.compile(r"(?:^|\.)(?:patch_embed\.|(?:cls_token|pos_embed|dist_token|reg_token)$)")
NO_DECAY_NAMES = ("pos_embed", "cls_token", "dist_token", "reg_token")


def vit_depth(names: Sequence[str]) -> int:
    """Number of ViT blocks among parameter names (``...blocks.<i>....``)."""
    found = [int(m.group(1)) for m in map(_BLOCK.search, names) if m]
    if not found:
        raise ValueError("layer-wise lr decay: the model has no ViT blocks (no parameter "
                         "named '...blocks.<i>....')")
    return max(found) + 1


def layer_id(name: str, depth: int) -> int:
    """0: embeddings; i + 1: block i; depth + 1: everything after the blocks."""
    block = _BLOCK.search(name)
    if block:
        return int(block.group(1)) + 1
    if _EMBEDDING.search(name):
        return 0
    return depth + 1


def decays(name: str, param: nn.Parameter, no_decay_names: Sequence[str] = NO_DECAY_NAMES) -> bool:
    return param.ndim > 1 and name.rsplit(".", 1)[-1] not in set(no_decay_names)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Parameter groups by (layer id, weight decay or none), each at its layer's rate.

    ``paramwise_cfg``:
        layer_decay_rate: the decay per layer (0.65 in FMAE's recipe; 1.0: none).
        no_decay_names: last name components without weight decay, besides
            every one-dimensional parameter (default: pos_embed, cls_token,
            dist_token, reg_token).

    Each group records its ``layer_id`` and ``lr_scale``.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        paramwise_cfg = dict(paramwise_cfg or {})
        self.layer_decay_rate = float(paramwise_cfg.pop("layer_decay_rate", 1.0))
        self.no_decay_names = tuple(paramwise_cfg.pop("no_decay_names", NO_DECAY_NAMES))
        if paramwise_cfg:
            raise ValueError("LayerDecayOptimWrapperConstructor: unknown paramwise_cfg keys "
                             f"{', '.join(sorted(paramwise_cfg))} (it takes layer_decay_rate, "
                             "no_decay_names)")
        if not 0 < self.layer_decay_rate <= 1:
            raise ValueError(f"layer_decay_rate must be in (0, 1], got {self.layer_decay_rate}")
        # a non-empty paramwise_cfg makes the base class call add_params
        super().__init__(optim_wrapper_cfg, dict(layer_decay_rate=self.layer_decay_rate))

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        depth = vit_depth([n for n, _ in named])
        groups: Dict[Tuple[int, bool], dict] = {}
        for name, param in named:
            lid = layer_id(name, depth)
            decay = decays(name, param, self.no_decay_names)
            group = groups.get((lid, decay))
            if group is None:
                scale = self.layer_decay_rate ** (depth + 1 - lid)
                group = groups[(lid, decay)] = dict(
                    params=[], lr=self.base_lr * scale, layer_id=lid, lr_scale=scale,
                    weight_decay=(self.base_wd or 0.0) if decay else 0.0)
            group["params"].append(param)
        params.extend(groups[key] for key in sorted(groups))


__all__ = ["LayerDecayOptimWrapperConstructor", "NO_DECAY_NAMES", "decays", "layer_id", "vit_depth"]
