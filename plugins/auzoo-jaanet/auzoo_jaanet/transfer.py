"""JAA-Net's weights from a JAA-Net of other AUs: the authors' DISFA recipe.

Their released DISFA training starts from the BP4D model trained on parts 1+3
at epoch 5 (auzoo's BP4D fold 2): the region layers, the alignment branch and
the global branch are taken whole; each DISFA AU's refinement net and local
trunk come from one BP4D AU's — AU1, 2, 4, 6 and 12 from the same AU, AU25 from
AU23's, AU26 from AU17's; AU9, which BP4D does not code, and the two final
fully connected layers (whose shapes depend on the AU count) start fresh.

The per-AU networks are grouped convolutions here (one group per AU), so "AU
k's net" is group k of every tensor under ``attention_refine.`` and
``local_trunks.``: the rows ``k*c … (k+1)*c - 1`` along the output channels.
"""
from __future__ import annotations

from typing import Dict, Mapping, Sequence, Tuple

import torch
from torch import Tensor, nn

from auzoo.registry import WEIGHT_TRANSFERS

SHARED = ("region.", "align_trunk.", "align_head.", "global_trunk.")
PER_AU = ("attention_refine.", "local_trunks.")
FRESH = ("classifier.",)
# (DISFA AU, the BP4D AU whose networks it starts from), the authors' mapping.
DISFA_FROM_BP4D: Tuple[Tuple[int, int], ...] = (
    (1, 1), (2, 2), (4, 4), (6, 6), (12, 12), (25, 23), (26, 17))


def _take_groups(own: Tensor, src: Tensor, pairs: Sequence[Tuple[int, int]], n_own: int,
                 n_src: int, key: str, where: str) -> Tensor:
    """``own`` with its AU groups ``t`` replaced by ``src``'s groups ``s`` for each (t, s)."""
    if own.ndim == 0:  # a BatchNorm's batch counter, shared by the groups
        return src.clone()
    if own.shape[0] % n_own or src.shape[0] % n_src or \
            own.shape[0] // n_own != src.shape[0] // n_src or own.shape[1:] != src.shape[1:]:
        raise ValueError(f"{where}: {key} is {tuple(src.shape)} for {n_src} AUs in the file and "
                         f"{tuple(own.shape)} for {n_own} AUs in the model: not the same "
                         "per-AU network")
    out = own.detach().clone().view(n_own, -1, *own.shape[1:])
    groups = src.view(n_src, -1, *src.shape[1:])
    for t, s in pairs:
        out[t] = groups[s]
    return out.view_as(own)


@WEIGHT_TRANSFERS.register_module()
class JAANetAUTransfer:
    """Start a JAA-Net from another JAA-Net whose AUs differ.

    Args:
        au_map: (this model's AU, the source model's AU) pairs. An AU of this
            model without a pair keeps its fresh networks; a pair whose AU this
            model does not predict is skipped.
    """

    def __init__(self, au_map: Sequence[Sequence[int]] = DISFA_FROM_BP4D):
        self.au_map = tuple((int(t), int(s)) for t, s in au_map)

    def __call__(self, model: nn.Module, state: Mapping[str, Tensor], source_meta: Mapping,
                 where: str) -> Dict:
        from auzoo.engine.checkpoint import CheckpointError
        from auzoo.weights import WeightsMismatchError, load_state_dict_strict

        source_aus = tuple(int(a) for a in source_meta.get("aus") or ())
        aus = tuple(int(a) for a in model.aus)
        if not source_aus:
            raise CheckpointError(f"{where}: the checkpoint does not say which AUs it predicts")
        unknown = sorted({s for t, s in self.au_map if t in aus and s not in source_aus})
        if unknown:
            raise CheckpointError(f"{where}: the source model predicts AUs {source_aus}, "
                                  f"not AU {', '.join(map(str, unknown))} that init_from's "
                                  f"au_map takes networks from")
        pairs = [(aus.index(t), source_aus.index(s)) for t, s in self.au_map if t in aus]
        try:  # the shared branches whole, every key present and of the same shape
            load_state_dict_strict(model, state, where, prefixes=SHARED)
        except WeightsMismatchError as exc:
            raise CheckpointError(str(exc)) from None
        own = model.state_dict()
        per_au = {k: v for k, v in own.items() if k.startswith(PER_AU)}
        missing = [k for k in per_au if k not in state]
        if missing:
            raise CheckpointError(f"{where}: not a JAA-Net checkpoint, no {', '.join(missing[:3])}")
        with torch.no_grad():
            for key, value in per_au.items():
                value.copy_(_take_groups(value, state[key], pairs, len(aus), len(source_aus),
                                         key, where))
        taken = {f"AU{aus[t]}": f"AU{source_aus[s]}" for t, s in pairs}
        return dict(shared=list(SHARED), per_au=taken,
                    fresh=[f"AU{a}" for a in aus if f"AU{a}" not in taken] + list(FRESH))


__all__ = ["DISFA_FROM_BP4D", "JAANetAUTransfer"]
