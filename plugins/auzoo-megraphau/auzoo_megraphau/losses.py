"""ME-GraphAU's losses: the weighted asymmetric loss (both stages) and the edge
loss (stage 2), under auzoo's loss contract.

A not-coded label (``mask`` False) counts in no term: it adds nothing to a sum
and nothing to the count the sum is divided by; an edge counts only when both
of its AUs are coded. With every label coded, the losses are the official ones.
"""
from __future__ import annotations

import warnings
from typing import Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auzoo.registry import LOSSES


def au_class_weights(labels: np.ndarray, aus: Optional[Sequence[int]] = None) -> np.ndarray:
    """w_i = N (1 / r_i) / sum_j (1 / r_j), with r_i the positive rate of AU i
    among the frames where it is coded (NaN = not coded). An AU without a
    positive frame gets weight 0 (and a warning)."""
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2 or not len(labels):
        raise ValueError(f"training labels must be a (frames, AUs) array, got shape {labels.shape}")
    coded = ~np.isnan(labels)
    positives = np.where(coded, labels > 0, False).sum(axis=0)
    rates = positives / np.maximum(coded.sum(axis=0), 1)
    absent = rates <= 0
    if absent.all():
        raise ValueError("no AU has a positive coded frame in the training labels")
    if absent.any():
        names = [str(aus[i]) if aus is not None else f"#{i}" for i in np.flatnonzero(absent)]
        warnings.warn(f"no positive coded frame for AU {', '.join(names)}: class weight 0", stacklevel=2)
    inverse = np.where(absent, 0.0, 1.0 / np.where(absent, 1.0, rates))
    return inverse / inverse.sum() * labels.shape[1]


def edge_targets(labels: Tensor, mask: Tensor):
    """Edge classes (B, N^2) and which edges count (B, N^2) for edges e = i * N + j:
    2 y_i + y_j (0 neither, 1 only the start j, 2 only the end i, 3 both),
    counted when AUs i and j are both coded."""
    y = torch.where(mask, labels, torch.zeros_like(labels)).round().long()  # NaN-safe
    target = (2 * y.unsqueeze(2) + y.unsqueeze(1)).flatten(1)
    valid = (mask.unsqueeze(2) & mask.unsqueeze(1)).flatten(1)
    return target, valid


@LOSSES.register_module()
class WeightedAsymmetricLoss(nn.Module):
    """L = -sum_coded w_i [y log p + (1 - y) p' log(1 - p)] / #coded, p = sigmoid(logit),
    p' = p without gradient (the asymmetric focusing of negatives), log p and
    log(1 - p) floored at log(eps) as the official code clamps p at eps.

    ``weights``: fixed per-AU weights; by default :meth:`bind` computes them
    from the training labels (:func:`au_class_weights`); unbound, every AU weighs 1.
    """

    def __init__(self, weights: Optional[Sequence[float]] = None, eps: float = 1e-8):
        super().__init__()
        self.fixed = weights is not None
        self.register_buffer("weights", torch.tensor(weights if weights is not None else [],
                                                     dtype=torch.float32), persistent=False)
        self.log_eps = float(np.log(eps)) if eps > 0 else -float("inf")

    def bind(self, model: nn.Module, train_labels: np.ndarray) -> None:
        if not self.fixed:
            w = au_class_weights(train_labels, getattr(model, "aus", None))
            self.weights = torch.as_tensor(w, dtype=torch.float32, device=self.weights.device)

    def forward(self, outputs: Dict[str, Tensor], labels: Tensor, mask: Tensor,
                batch: Optional[dict] = None) -> Tensor:
        logits = outputs["logits"].float()
        coded = mask.to(torch.bool)
        # Not-coded labels may hold anything (NaN): zero them so that no NaN
        # reaches the gradient through the masked-out terms.
        labels = torch.where(coded, labels.to(logits.dtype), torch.zeros_like(logits))
        weights = self.weights.to(logits.device) if self.weights.numel() else torch.ones_like(logits[0])
        if weights.numel() != logits.shape[1]:
            raise ValueError(f"{weights.numel()} class weights for {logits.shape[1]} AUs")
        log_p = F.logsigmoid(logits).clamp(min=self.log_eps)
        log_not_p = F.logsigmoid(-logits).clamp(min=self.log_eps)
        focus = torch.sigmoid(logits).detach()
        term = weights * (labels * log_p + (1 - labels) * focus * log_not_p)
        return -torch.where(coded, term, torch.zeros_like(term)).sum() / coded.sum().clamp(min=1)


@LOSSES.register_module()
class AUEdgeLoss(nn.Module):
    """Cross-entropy of the 4-way edge logits (B, N^2, 4) against
    :func:`edge_targets`, averaged over the counted edges."""

    def forward(self, outputs: Dict[str, Tensor], labels: Tensor, mask: Tensor,
                batch: Optional[dict] = None) -> Tensor:
        edge_logits = outputs["edge_logits"].float()
        target, valid = edge_targets(labels, mask.to(torch.bool))
        per_edge = F.cross_entropy(edge_logits.flatten(0, 1), target.flatten(), reduction="none")
        valid = valid.flatten()
        return torch.where(valid, per_edge, torch.zeros_like(per_edge)).sum() / valid.sum().clamp(min=1)


@LOSSES.register_module()
class MEGraphAULoss(nn.Module):
    """Stage 2: ``loss_au`` (weighted asymmetric) + ``loss_edge`` (edge_weight x edge loss)."""

    def __init__(self, edge_weight: float = 0.05, weights: Optional[Sequence[float]] = None,
                 eps: float = 1e-8):
        super().__init__()
        self.edge_weight = float(edge_weight)
        self.au = WeightedAsymmetricLoss(weights=weights, eps=eps)
        self.edge = AUEdgeLoss()

    def bind(self, model: nn.Module, train_labels: np.ndarray) -> None:
        self.au.bind(model, train_labels)

    def forward(self, outputs: Dict[str, Tensor], labels: Tensor, mask: Tensor,
                batch: Optional[dict] = None) -> Dict[str, Tensor]:
        if "edge_logits" not in outputs:
            raise KeyError("MEGraphAULoss needs 'edge_logits' from the model's forward_train "
                           "(a MEGraphAU with a MEFL graph); stage 1 uses WeightedAsymmetricLoss")
        return dict(loss_au=self.au(outputs, labels, mask, batch),
                    loss_edge=self.edge_weight * self.edge(outputs, labels, mask, batch))


__all__ = ["AUEdgeLoss", "MEGraphAULoss", "WeightedAsymmetricLoss", "au_class_weights", "edge_targets"]
