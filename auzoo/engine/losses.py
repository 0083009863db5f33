"""Training losses, registered in :data:`auzoo.registry.LOSSES`.

A loss is called as ``loss(outputs, labels, mask, batch)``: ``outputs`` is the
model's ``forward_train`` dict (at least ``'logits'``), ``labels`` float 0/1
(N, A) in ``model.aus`` order, ``mask`` bool (N, A) with False where the
dataset did not code that AU on that frame (such a label counts in no term),
and ``batch`` the rest of the batch: ``landmarks``, ``index`` (dataset rows)
and ``subject`` (the frames' subject names). It returns a tensor or a
dict of tensors whose keys containing ``loss`` are summed (mmengine's
``parse_losses``). Before training the engine calls ``bind(model,
train_labels)`` where a loss has it: the model (its AU groups) and the
training labels (NaN where not coded), for losses that weigh AUs by them.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auzoo.registry import LOSSES

REDUCTIONS = {
    "branch_sum": "sum over the model's branches of each branch's mean BCE (TRA-Net's loss)",
    "region_sum": ("sum over face regions (upper / middle / lower) of each region's mean BCE, "
                   "whatever the model's branching: a single-branch ablation weighs every AU "
                   "as TRA-Net does"),
    "mean": "mean BCE over every AU and frame (each AU weighs 1 / n_AU)",
}


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` over the entries where ``mask`` is True (0 when none is)."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def grouped_bce(logits: Tensor, labels: Tensor, mask: Tensor,
                groups: Sequence[Sequence[int]]) -> Tensor:
    """Sum over groups of the group's mean binary cross-entropy over coded labels."""
    bce = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")
    return sum(masked_mean(bce[:, list(g)], mask[:, list(g)]) for g in groups)


def region_groups(aus: Sequence[int]) -> List[tuple]:
    """Indices into ``aus`` grouped by face region (the AU -> region table)."""
    from auzoo.models.au_regions import region_of

    groups: Dict[str, list] = {}
    for i, au in enumerate(aus):
        groups.setdefault(region_of(au), []).append(i)
    return [tuple(g) for g in groups.values()]


@LOSSES.register_module()
class AUBCELoss(nn.Module):
    """Multi-label binary cross-entropy over coded labels, reduced per AU group.

    Args:
        reduction: one of :data:`REDUCTIONS`. TRA-Net's "losses from upper,
            middle and lower branch were summed" is ``branch_sum``; for TRA-Net
            ``region_sum`` is the same loss, and it gives the single-branch
            Table 2 ablations the same per-AU weights, so the table compares
            architectures, not learning rates.
        pos_weight: optional per-AU weight of positives (a sequence in the
            model's AU order).
    """

    def __init__(self, reduction: str = "branch_sum", pos_weight: Optional[Sequence[float]] = None):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"AUBCELoss: unknown reduction {reduction!r}; choose one of "
                             f"{', '.join(REDUCTIONS)}")
        self.reduction = reduction
        self.pos_weight = None if pos_weight is None else torch.as_tensor(pos_weight, dtype=torch.float32)
        self.groups: Optional[List[tuple]] = None

    def bind(self, model: nn.Module, train_labels: Optional[np.ndarray] = None) -> None:
        aus = tuple(model.aus)
        if self.reduction == "branch_sum":
            self.groups = [tuple(g) for g in getattr(model, "loss_groups", [range(len(aus))])]
        elif self.reduction == "region_sum":
            self.groups = region_groups(aus)
        else:
            self.groups = [tuple(range(len(aus)))]

    def forward(self, outputs: Dict[str, Tensor], labels: Tensor, mask: Tensor,
                batch: Optional[dict] = None) -> Tensor:
        logits = outputs["logits"].float()
        if self.groups is None:
            raise RuntimeError("AUBCELoss.bind(model) must be called before the loss is used")
        if self.reduction == "mean":
            return self._bce_mean(logits, labels, mask)
        if self.pos_weight is not None:
            weight = self.pos_weight.to(logits.device)
            bce = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none",
                                                     pos_weight=weight)
            return sum(masked_mean(bce[:, list(g)], mask[:, list(g)]) for g in self.groups)
        return grouped_bce(logits, labels, mask, self.groups)

    def _bce_mean(self, logits: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        weight = None if self.pos_weight is None else self.pos_weight.to(logits.device)
        bce = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none",
                                                 pos_weight=weight)
        return masked_mean(bce, mask)


def build_loss(cfg) -> nn.Module:
    from auzoo.registry import build_part

    return build_part(LOSSES, cfg if cfg is not None else dict(type="AUBCELoss"))


from auzoo.engine import intensity_losses  # noqa: E402,F401  (registers the intensity losses)
