"""Heads: a branch's feature map in, that branch's AU logits out."""
from __future__ import annotations

from torch import Tensor, nn

from auzoo.models.pooling import GridAvgPool2d
from auzoo.registry import HEADS


@HEADS.register_module()
class TwoFCHead(nn.Module):
    """Average-pool to a ``pool_size`` x ``pool_size`` grid, flatten, then
    FC -> ReLU -> Dropout -> FC.

    TRA-Net feeds the branch's feature *map* to its two FC layers; pooling to a
    small grid rather than to one vector keeps where in the region a feature
    fired (the brow or the mouth corner) at a fraction of the cost of the full
    map. ``pool_size=1`` is the usual global-pool head.
    """

    def __init__(self, in_channels: int, num_classes: int, pool_size: int = 4,
                 hidden: int = 1024, dropout: float = 0.5):
        super().__init__()
        self.pool = GridAvgPool2d(pool_size)  # AdaptiveAvgPool2d, deterministic on CUDA too
        self.fc1 = nn.Linear(in_channels * pool_size * pool_size, hidden)
        self.act = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(x).flatten(1)
        return self.fc2(self.drop(self.act(self.fc1(x))))


__all__ = ["TwoFCHead"]
