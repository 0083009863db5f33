"""From backbone tokens to one node feature per AU (both stages).

The shared reduction brings every backbone token to the node width C; the
AU-specific feature generator (AFG) then makes one token map per AU with its
own linear block, and a node's feature is its map averaged over the tokens.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor, nn

from auzoo.registry import NECKS

from auzoo_megraphau.blocks import LinearBlock


@NECKS.register_module()
class TokenReduction(LinearBlock):
    """The shared reduction: one linear block, backbone width -> C, on every token.

    (B, D, in_channels) -> X (B, D, channels).
    """

    def __init__(self, in_channels: int, channels: int = 512, drop: float = 0.0):
        super().__init__(in_channels, channels, drop)
        self.in_channels = in_channels
        self.channels = channels


@NECKS.register_module()
class AUFeatureGenerator(nn.Module):
    """AFG: one linear block C -> C per AU, each on every token of X.

    Returns ``(U, V)``: the per-AU token maps U (B, N, D, C) and the node
    features V (B, N, C), U averaged over the D tokens.
    """

    def __init__(self, num_aus: int, channels: int = 512, drop: float = 0.0):
        super().__init__()
        self.num_aus = num_aus
        self.generators = nn.ModuleList(LinearBlock(channels, channels, drop) for _ in range(num_aus))

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        u = torch.stack([generate(x) for generate in self.generators], dim=1)
        return u, u.mean(dim=-2)


__all__ = ["AUFeatureGenerator", "TokenReduction"]
