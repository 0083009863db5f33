"""JAA-Net's losses: AU-weighted softmax and dice, landmarks, attention refinement.

With n AUs, class weights ``w`` (mean 1, rarer AUs heavier), ``p`` = P(present)
and ``y`` the 0/1 label, after the authors' PyTorch code (v1)::

    E_softmax = 1/n Σ_i w_i · mean_b −log p(y_bi)
    E_dice    = 1/n Σ_i w_i · (1 − (2 Σ_b p_bi y_bi + 1) / (Σ_b p_bi² + Σ_b y_bi² + 1) / B)
    E_align   = mean_b Σ_j |q_bj − q̂_bj|² / (2 d_b²)      (49 points, d: inter-ocular distance)
    E_r       = Σ_i mean_{b,pixels} BCE(M_bi, initial map_bi)
    total     = E_softmax + E_dice + 0.5 · E_align + 1e-4 · E_r

The dice ratio pools the whole batch and is divided by the batch size B, a
quirk of the authors' PyTorch code that shrinks the term's gradient about B
times; ``dice='sample'`` uses their Caffe model's per-sample dice instead
(mean_b of 1 − (2py + 1) / (p² + y² + 1)). E_r's weight is the code's
λ = 2e-4 divided by the "gradient enhancement" 2, whose other half is the
refinement nets' doubled learning rate (the config's ``paramwise_cfg``).

Masks: a not-coded label (mask False) counts in no AU term (B is then the
number of coded frames of that AU); a missing landmark (NaN) counts in no
point term, and a frame whose eyes are missing (no inter-ocular distance)
counts in no landmark term.
"""
from __future__ import annotations

import warnings
from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auzoo.registry import LOSSES
from auzoo_jaanet.landmarks import eye_centres, jaa_points


def au_class_weights(labels: np.ndarray) -> np.ndarray:
    """JAA-Net's weights: w_i = (1/r_i) / Σ_j (1/r_j) · n with r_i the AU's positive rate
    over its coded frames (NaN = not coded). An AU with no positive frame gets 0
    (and a warning) and stays out of the normalisation."""
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2:
        raise ValueError(f"expected training labels (frames, AUs), got shape {labels.shape}")
    coded = np.isfinite(labels)
    positives = ((labels > 0) & coded).sum(axis=0)
    rate = positives / np.maximum(coded.sum(axis=0), 1)
    weights = np.zeros(labels.shape[1])
    seen = rate > 0
    if not seen.all():
        warnings.warn(f"JAA-Net class weights: AU columns {np.flatnonzero(~seen).tolist()} have no "
                      "positive training frame; their AU losses get weight 0", stacklevel=2)
    if seen.any():
        inverse = 1.0 / rate[seen]
        weights[seen] = inverse / inverse.sum() * seen.sum()
    return weights


def weighted_softmax_loss(logits: Tensor, labels: Tensor, mask: Tensor, weights: Tensor) -> Tensor:
    """E_softmax over coded labels; logits = present − absent of the two-way softmax."""
    nll = F.binary_cross_entropy_with_logits(logits, labels, reduction="none") * mask
    per_au = nll.sum(0) / mask.sum(0).clamp_min(1)
    return (weights * per_au).sum() / logits.shape[1]


def weighted_dice_loss(probs: Tensor, labels: Tensor, mask: Tensor, weights: Tensor,
                       mode: str = "batch", smooth: float = 1.0) -> Tensor:
    """E_dice over coded labels, ``mode`` 'batch' (PyTorch code) or 'sample' (Caffe)."""
    p, y, m = probs * mask, labels * mask, mask.to(probs.dtype)
    count = m.sum(0)
    if mode == "batch":
        ratio = (2 * (p * y).sum(0) + smooth) / ((p * p).sum(0) + (y * y).sum(0) + smooth)
        per_au = 1 - ratio / count.clamp_min(1)
    elif mode == "sample":
        per_frame = 1 - (2 * p * y + smooth) / (p * p + y * y + smooth)
        per_au = (per_frame * m).sum(0) / count.clamp_min(1)
    else:
        raise ValueError(f"dice mode must be 'batch' or 'sample', got {mode!r}")
    return (weights * per_au * (count > 0)).sum() / probs.shape[1]


def landmark_loss(predicted: Tensor, target: Tensor) -> Tensor:
    """E_align: per frame Σ over the 49 points of the squared error / (2 d²), mean over frames.

    ``target`` (N, 49, 2), NaN where missing; d = distance between the eye centres."""
    left, right = eye_centres(target)
    d2 = ((left - right) ** 2).sum(-1)  # (N,)
    point_ok = torch.isfinite(target).all(-1)  # (N, 49)
    frame_ok = torch.isfinite(d2) & (d2 > 0) & point_ok.any(-1)
    err = ((predicted - torch.nan_to_num(target)) ** 2).sum(-1) * point_ok  # (N, 49)
    per_frame = err.sum(-1) / (2 * torch.where(frame_ok, d2, torch.ones_like(d2)))
    if not frame_ok.any():
        return predicted.sum() * 0  # keeps the graph; nothing to learn from this batch
    return per_frame[frame_ok].mean()


def attention_refine_loss(refined_logits: Tensor, initial: Tensor) -> Tensor:
    """E_r: per AU, BCE of the refined map against the initial one resized to its side
    (nearest), mean over frames and pixels; summed over AUs."""
    target = F.interpolate(initial.detach(), size=refined_logits.shape[-2:], mode="nearest")
    bce = F.binary_cross_entropy_with_logits(refined_logits, target, reduction="none")
    return bce.mean(dim=(0, 2, 3)).sum()


@LOSSES.register_module()
class JAANetLoss(nn.Module):
    """JAA-Net's training loss (see module doc); the engine's ``bind`` sets the class weights.

    Args:
        au_weight, align_weight, refine_weight: λ of E_au (= E_softmax + E_dice),
            E_align and E_r.
        dice: 'batch' (the authors' PyTorch code) or 'sample' (their Caffe model).
        smooth: the dice's smoothing constant.
    """

    def __init__(self, au_weight: float = 1.0, align_weight: float = 0.5,
                 refine_weight: float = 1e-4, dice: str = "batch", smooth: float = 1.0):
        super().__init__()
        if dice not in ("batch", "sample"):
            raise ValueError(f"dice must be 'batch' or 'sample', got {dice!r}")
        self.au_weight = au_weight
        self.align_weight = align_weight
        self.refine_weight = refine_weight
        self.dice, self.smooth = dice, smooth
        self.class_weights: Optional[Tensor] = None

    def bind(self, model, train_labels: np.ndarray) -> None:
        labels = np.asarray(train_labels)
        if labels.ndim != 2 or labels.shape[1] != len(model.aus):
            raise ValueError(f"JAANetLoss.bind: training labels of shape {labels.shape} for a "
                             f"model of {len(model.aus)} AUs")
        self.class_weights = torch.as_tensor(au_class_weights(labels), dtype=torch.float32)

    def forward(self, outputs: Dict[str, Tensor], labels: Tensor, mask: Tensor,
                batch: Dict) -> Dict[str, Tensor]:
        logits = outputs["logits"].float()
        mask = mask.bool()
        labels = torch.where(mask, labels.float(), torch.zeros((), device=logits.device))
        mask = mask.to(logits.dtype)
        weights = (self.class_weights if self.class_weights is not None
                   else torch.ones(logits.shape[1])).to(logits.device)
        losses = {
            "loss_softmax": self.au_weight * weighted_softmax_loss(logits, labels, mask, weights),
            "loss_dice": self.au_weight * weighted_dice_loss(torch.sigmoid(logits), labels, mask,
                                                             weights, self.dice, self.smooth),
        }
        if self.align_weight and "landmarks" in outputs:
            target = batch.get("landmarks") if batch is not None else None
            if target is None:
                raise ValueError("JAANetLoss needs batch['landmarks'] (N, 66, 2) to train the "
                                 "face alignment branch")
            losses["loss_align"] = self.align_weight * landmark_loss(
                outputs["landmarks"].float(), jaa_points(target.float()))
        if self.refine_weight and "attention_logits" in outputs:
            losses["loss_refine"] = self.refine_weight * attention_refine_loss(
                outputs["attention_logits"].float(), outputs["attention_init"].float())
        return losses


__all__ = ["JAANetLoss", "attention_refine_loss", "au_class_weights", "landmark_loss",
           "weighted_dice_loss", "weighted_softmax_loss"]
