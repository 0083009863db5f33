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
``intensity(raw)`` turns them into (N, A) intensities, always inside [0, 5]
(:func:`read_intensity`). Each head is TRA-Net's two-FC head
(:class:`~auzoo.models.heads.TwoFCHead`, same options) with an output layer of
the width its reading needs. :class:`NodeIntensityHead` reads the same three
ways from one feature vector per AU (a graph model's nodes).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from auzoo.models.heads import TwoFCHead
from auzoo.registry import HEADS

MAX_LEVEL = 5
RAW_WIDTH = {"regression": 1, "ordinal": MAX_LEVEL, "levels": MAX_LEVEL + 1}


def read_intensity(raw: Tensor, kind: str) -> Tensor:
    """(N, A) intensities in [0, 5] from raw outputs (N, A, RAW_WIDTH[kind])."""
    raw = raw.float()
    if kind == "regression":
        return MAX_LEVEL * torch.sigmoid(raw[..., 0])
    if kind == "ordinal":
        return torch.sigmoid(raw).sum(dim=-1)
    if kind == "levels":
        levels = torch.arange(raw.shape[-1], device=raw.device, dtype=torch.float32)
        return (torch.softmax(raw, dim=-1) * levels).sum(dim=-1)
    raise ValueError(f"unknown intensity reading {kind!r}; one of {', '.join(RAW_WIDTH)}")


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

    def intensity(self, raw: Tensor) -> Tensor:
        return read_intensity(raw, self.kind)


@HEADS.register_module()
class RegressionIntensityHead(IntensityHead):
    """Bounded regression: intensity = 5 sigmoid(s), one score s per AU."""

    kind = "regression"
    raw = 1


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


@HEADS.register_module()
class LevelsIntensityHead(IntensityHead):
    """Six logits per AU, one per level 0-5; intensity = sum_k k softmax_k."""

    kind = "levels"
    raw = MAX_LEVEL + 1


INTENSITY_KINDS = {cls.kind: cls for cls in (RegressionIntensityHead, OrdinalIntensityHead,
                                             LevelsIntensityHead)}


@HEADS.register_module()
class NodeIntensityHead(nn.Module):
    """Intensity from one feature vector per AU (N, A, C): each AU its own
    linear read-out of its vector, read as ``kind`` (regression, ordinal or
    levels; the ordinal kind keeps CORAL's shared score and five thresholds)."""

    def __init__(self, num_aus: int, channels: int, kind: str = "regression"):
        super().__init__()
        if kind not in RAW_WIDTH:
            raise ValueError(f"NodeIntensityHead: kind {kind!r} is not one of {', '.join(RAW_WIDTH)}")
        self.kind, self.num_aus = kind, int(num_aus)
        self.raw = RAW_WIDTH[kind]
        width = 1 if kind == "ordinal" else self.raw
        self.weight = nn.Parameter(torch.empty(self.num_aus, channels, width))
        self.bias = nn.Parameter(torch.zeros(self.num_aus, width))
        nn.init.normal_(self.weight, std=channels ** -0.5)
        self.thresholds = (nn.Parameter((-torch.arange(MAX_LEVEL, dtype=torch.float32) - 1.0)
                                        .repeat(self.num_aus, 1)) if kind == "ordinal" else None)

    def forward(self, nodes: Tensor) -> Tensor:
        """Raw outputs (N, A, raw) of node features (N, A, C)."""
        out = torch.einsum("nac,acr->nar", nodes, self.weight.to(nodes.dtype)) + self.bias.to(nodes.dtype)
        return out + self.thresholds.to(out.dtype) if self.thresholds is not None else out

    def intensity(self, raw: Tensor) -> Tensor:
        return read_intensity(raw, self.kind)


__all__ = ["INTENSITY_KINDS", "IntensityHead", "LevelsIntensityHead", "MAX_LEVEL",
           "NodeIntensityHead", "OrdinalIntensityHead", "RAW_WIDTH", "RegressionIntensityHead",
           "read_intensity"]
