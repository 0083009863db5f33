"""Intensity losses, registered in :data:`auzoo.registry.LOSSES` beside the
heads they train (:mod:`auzoo.models.intensity_heads`).

Called like every auzoo loss, ``loss(outputs, labels, mask, batch)``: the
model's ``forward_train`` dict holds ``intensity_raw`` (N, A, raw),
``intensity_kind`` and ``intensity`` (N, A, 0-5); the batch holds the labels
``intensity`` (N, A, 0-5) and ``intensity_mask`` (False where the dataset did
not code the AU on that frame: such a label counts in no term).

=========================  ==============================  ================================
loss                       head                            term per coded label
=========================  ==============================  ================================
``IntensityMSELoss``       any (reads the 0-5 intensity)   ((p - y) / scale)^2 (x level weight)
``OrdinalIntensityLoss``   ``OrdinalIntensityHead``        sum_k BCE(sigmoid(s + b_k), y > k)
``LevelsIntensityLoss``    ``LevelsIntensityHead``         CE over the 6 levels (+ L1 of E[y])
``OccurrenceIntensityLoss``  a model with both heads       occurrence loss + w * intensity loss
=========================  ==============================  ================================
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auzoo.engine.losses import masked_mean
from auzoo.registry import LOSSES, build_part


def _targets(outputs: Dict[str, Tensor], batch: Optional[dict], who: str):
    batch = batch or {}
    if batch.get("intensity") is None or batch.get("intensity_mask") is None:
        raise ValueError(f"{who}: the batch has no intensity labels (the task is not "
                         "'intensity' or 'both', or the dataset codes no intensity)")
    if "intensity" not in outputs:
        raise ValueError(f"{who}: the model returned no intensity (give it an intensity_head)")
    return batch["intensity"].float(), batch["intensity_mask"].bool()


def _raw(outputs: Dict[str, Tensor], kind: str, who: str) -> Tensor:
    if outputs.get("intensity_kind") != kind:
        raise ValueError(f"{who} trains a {kind} head; the model's intensity head is "
                         f"{outputs.get('intensity_kind')!r}")
    return outputs["intensity_raw"].float()


def level_weights(intensities: np.ndarray) -> np.ndarray:
    """Per-(AU, level) weights (A, 6) that give every level an AU shows in the
    training labels the same total weight (the inverse of its frequency, as
    TAS weighs its squared errors), scaled so that the mean weight over the
    coded training labels is 1. A level an AU never shows weighs 0.
    ``intensities``: (frames, A) 0-5, NaN where not coded."""
    values = np.asarray(intensities, dtype=np.float64)
    counts = np.stack([(np.round(values) == k).sum(axis=0) for k in range(6)], axis=1)  # (A, 6)
    shown = (counts > 0).sum(axis=1, keepdims=True)
    weights = np.divide(counts.sum(axis=1, keepdims=True), shown * counts,
                        out=np.zeros(counts.shape), where=counts > 0)
    coded = counts.sum()
    mean = (weights * counts).sum() / coded if coded else 1.0
    return (weights / mean).astype(np.float32) if mean > 0 else weights.astype(np.float32)


@LOSSES.register_module()
class IntensityMSELoss(nn.Module):
    """Mean squared error of the 0-5 intensities over coded labels, in units of
    ``scale`` (default 5: the error of y/5, as TAS trains; 1: on the 0-5 scale).

    ``balance='levels'`` weighs each label's squared error by its (AU, level)
    weight from the training intensities (:func:`level_weights`), against
    the frames at 0 outweighing the rest. Full inverse frequency lets the
    rare top levels outweigh everything else instead (docs/intensity.md:
    on the synthetic demo it pulled every prediction up), so it is an option,
    not a default."""

    BALANCES = ("none", "levels")

    def __init__(self, scale: float = 5.0, balance: str = "none"):
        super().__init__()
        if scale <= 0:
            raise ValueError(f"IntensityMSELoss: scale must be > 0, not {scale}")
        if balance not in self.BALANCES:
            raise ValueError(f"IntensityMSELoss: balance {balance!r} is not one of "
                             f"{', '.join(self.BALANCES)}")
        self.scale = float(scale)
        self.balance = balance
        self.weights: Optional[Tensor] = None

    def bind_intensity(self, intensities: np.ndarray) -> None:
        if self.balance == "levels":
            self.weights = torch.from_numpy(level_weights(intensities))

    def forward(self, outputs, labels=None, mask=None, batch=None) -> Tensor:
        target, known = _targets(outputs, batch, type(self).__name__)
        error = ((outputs["intensity"].float() - target) / self.scale).square()
        if self.balance == "levels":
            if self.weights is None:
                raise RuntimeError("IntensityMSELoss(balance='levels') needs bind_intensity(...) "
                                   "with the training intensities before it is used")
            weights = self.weights.to(error.device)
            level = target.round().clamp(0, 5).long()
            aus = torch.arange(target.shape[1], device=error.device).expand_as(level)
            error = error * weights[aus, level]
        return masked_mean(error, known)


@LOSSES.register_module()
class OrdinalIntensityLoss(nn.Module):
    """CORAL's loss: for each level k = 0..4, the binary cross-entropy of
    P(y > k) against [y > k], summed over k, mean over coded labels."""

    def forward(self, outputs, labels=None, mask=None, batch=None) -> Tensor:
        who = type(self).__name__
        target, known = _targets(outputs, batch, who)
        raw = _raw(outputs, "ordinal", who)
        levels = torch.arange(raw.shape[-1], device=raw.device, dtype=raw.dtype)
        above = (target.unsqueeze(-1) > levels).to(raw.dtype)
        bce = F.binary_cross_entropy_with_logits(raw, above, reduction="none").sum(dim=-1)
        return masked_mean(bce, known)


@LOSSES.register_module()
class LevelsIntensityLoss(nn.Module):
    """Cross-entropy over the six levels 0-5 over coded labels, plus
    ``l1_weight`` times the mean |E[y] - y| (the expected level is what is read out)."""

    def __init__(self, l1_weight: float = 0.0):
        super().__init__()
        self.l1_weight = float(l1_weight)

    def forward(self, outputs, labels=None, mask=None, batch=None) -> Tensor:
        who = type(self).__name__
        target, known = _targets(outputs, batch, who)
        raw = _raw(outputs, "levels", who)
        level = target.round().clamp(0, raw.shape[-1] - 1).long()
        ce = F.cross_entropy(raw.flatten(0, 1), level.flatten(), reduction="none").view_as(target)
        loss = masked_mean(ce, known)
        if self.l1_weight:
            loss = loss + self.l1_weight * masked_mean((outputs["intensity"] - target).abs(), known)
        return loss


@LOSSES.register_module()
class OccurrenceIntensityLoss(nn.Module):
    """A model with both heads: ``occurrence`` loss + ``intensity_weight`` x
    ``intensity`` loss (both part configs), logged apart."""

    def __init__(self, occurrence: Optional[dict] = None, intensity: Optional[dict] = None,
                 intensity_weight: float = 1.0):
        super().__init__()
        self.occurrence = build_part(LOSSES, occurrence or dict(type="AUBCELoss"))
        self.intensity = build_part(LOSSES, intensity or dict(type="IntensityMSELoss"))
        self.intensity_weight = float(intensity_weight)

    def bind(self, model, train_labels=None) -> None:
        for part in (self.occurrence, self.intensity):
            if hasattr(part, "bind"):
                part.bind(model, train_labels)

    def bind_intensity(self, intensities: np.ndarray) -> None:
        if hasattr(self.intensity, "bind_intensity"):
            self.intensity.bind_intensity(intensities)

    def forward(self, outputs, labels, mask, batch=None) -> Dict[str, Tensor]:
        occurrence = self.occurrence(outputs, labels, mask, batch)
        out = dict(occurrence) if isinstance(occurrence, dict) else {"loss_occurrence": occurrence}
        out["loss_intensity"] = self.intensity_weight * self.intensity(outputs, labels, mask, batch)
        return out


__all__ = ["IntensityMSELoss", "LevelsIntensityLoss", "OccurrenceIntensityLoss",
           "OrdinalIntensityLoss"]
