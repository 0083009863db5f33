"""Intensity heads: a branch's feature map in, that branch's AU intensities out.

FACS codes intensity on six levels, 0 (absent) and A-E = 1-5. Three ways
of predicting it are registered, each with its loss in
:mod:`auzoo.engine.intensity_losses`:

=============================  =====  ===========================================
head                           raw    intensity (0-5)
=============================  =====  ===========================================
``RegressionIntensityHead``    1      5 sigmoid(s): bounded regression (LibreFace, TAS)
``OrdinalIntensityHead``       5      sum_k sigmoid(s + b_k), k = 0..4: cumulative
                                      logits of P(y > k) sharing one score s per AU
                                      (rank-consistent, CORAL); their sum is E[y]
``LevelsIntensityHead``        6      sum_k k softmax_k: classification over the six
                                      levels, read out as the expected level
=============================  =====  ===========================================

A head's ``forward`` returns the raw outputs (N, A, raw) the loss reads;
``intensity(raw)`` turns them into (N, A) intensities, always inside [0, 5].
Each head is TRA-Net's two-FC head (:class:`~auzoo.models.heads.TwoFCHead`,
same options) with an output layer of the width its reading needs.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from auzoo.models.heads import TwoFCHead
from auzoo.registry import HEADS

MAX_LEVEL = 5


class IntensityHead(nn.Module):
    """Base: a two-FC trunk with ``raw`` outputs per AU."""

    kind = ""
    raw = 1

    def __init__(self, in_channels: int, num_classes: int, pool_size: int = 4,
                 hidden: int = 1024, dropout: float = 0.5):
        super().__init__()
        self.num_aus = int(num_classes)
        self.trunk = TwoFCHead(in_channels, self.num_aus * self.trunk_width, pool_size, hidden,
                               dropout)

    @property
    def trunk_width(self) -> int:
        return self.raw

    def forward(self, x: Tensor) -> Tensor:
        """Raw outputs (N, A, raw)."""
        return self.trunk(x).view(x.shape[0], self.num_aus, self.raw)

    def intensity(self, raw: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


@HEADS.register_module()
class RegressionIntensityHead(IntensityHead):
    """Bounded regression: intensity = 5 sigmoid(s), one score s per AU."""

    kind = "regression"
    raw = 1

    def intensity(self, raw: Tensor) -> Tensor:
        return MAX_LEVEL * torch.sigmoid(raw.float()[..., 0])


@HEADS.register_module()
class OrdinalIntensityHead(IntensityHead):
    """Cumulative logits P(y > k) = sigmoid(s + b_k), k = 0..4, one score s per
    AU and five biases per AU (CORAL: sharing s keeps the five probabilities
    ordered when the biases are). Intensity = sum_k P(y > k) = E[y]."""

    kind = "ordinal"
    raw = MAX_LEVEL

    def __init__(self, in_channels: int, num_classes: int, pool_size: int = 4,
                 hidden: int = 1024, dropout: float = 0.5):
        super().__init__(in_channels, num_classes, pool_size, hidden, dropout)
        # start ordered: P(y > 0) > P(y > 1) > ... (most frames are 0)
        start = -torch.arange(MAX_LEVEL, dtype=torch.float32) - 1.0
        self.thresholds = nn.Parameter(start.repeat(self.num_aus, 1))

    @property
    def trunk_width(self) -> int:
        return 1

    def forward(self, x: Tensor) -> Tensor:
        score = self.trunk(x).view(x.shape[0], self.num_aus, 1)
        return score + self.thresholds.to(score.dtype)

    def intensity(self, raw: Tensor) -> Tensor:
        return torch.sigmoid(raw.float()).sum(dim=-1)


@HEADS.register_module()
class LevelsIntensityHead(IntensityHead):
    """Six logits per AU, one per level 0-5; intensity = sum_k k softmax_k."""

    kind = "levels"
    raw = MAX_LEVEL + 1

    def intensity(self, raw: Tensor) -> Tensor:
        levels = torch.arange(self.raw, device=raw.device, dtype=torch.float32)
        return (torch.softmax(raw.float(), dim=-1) * levels).sum(dim=-1)


INTENSITY_KINDS = {cls.kind: cls for cls in (RegressionIntensityHead, OrdinalIntensityHead,
                                             LevelsIntensityHead)}

__all__ = ["INTENSITY_KINDS", "IntensityHead", "LevelsIntensityHead", "MAX_LEVEL",
           "OrdinalIntensityHead", "RegressionIntensityHead"]
