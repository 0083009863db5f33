"""JAA-Net's hierarchical multi-scale region learning.

A region layer (Shao et al., ECCV 2018, section 3.1) convolves the whole map
once, then refines it at three scales: an 8×8 grid of patches, then 4×4, then
2×2, each patch with its own BatchNorm → ReLU → 3×3 conv (weights shared by no
other patch, each patch zero-padded on its own so nothing crosses a patch
border). Each scale works on the previous scale's output; their outputs (C/2,
C/4 and C/4 channels) are concatenated back to C channels, added to the whole
map's convolution, and normalised::

    x = conv3x3(input)
    b1 = patches8x8(x)  -> C/2      b2 = patches4x4(b1) -> C/4      b3 = patches2x2(b2) -> C/4
    out = ReLU(BN(x + concat(b1, b2, b3)))

Two region layers with a 2×2 max-pool after each make the shared feature map
(64 channels at a quarter of the input side: 44×44 for JAA-Net's 176 px crops).
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auzoo.registry import BACKBONES

DEFAULT_GRIDS = ((8, 8), (4, 4), (2, 2))


class PatchwiseConv(nn.Module):
    """BN → ReLU → 3×3 conv with its own weights for every patch of a grid.

    All patches run at once: patch ``k`` (row-major) becomes channel group
    ``k`` of a patch-sized tensor, so one BatchNorm over ``patches × C``
    channels and one grouped convolution give every patch its own statistics
    and weights, and the convolution's zero padding pads each patch on its own.
    A map that does not divide into the grid is zero-padded at the bottom and
    right to the next multiple, and the output is cropped back.
    """

    def __init__(self, in_channels: int, out_channels: int, grid: Tuple[int, int]):
        super().__init__()
        self.grid = (int(grid[0]), int(grid[1]))
        self.in_channels, self.out_channels = in_channels, out_channels
        patches = self.grid[0] * self.grid[1]
        self.norm = nn.BatchNorm2d(patches * in_channels)
        self.act = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(patches * in_channels, patches * out_channels, kernel_size=3,
                              padding=1, groups=patches)

    def forward(self, x: Tensor) -> Tensor:
        rows, cols = self.grid
        n, c, height, width = x.shape
        if height < rows or width < cols:
            raise ValueError(f"a {height}×{width} map cannot be cut into {rows}×{cols} patches")
        ph, pw = -(-height // rows), -(-width // cols)
        x = F.pad(x, (0, cols * pw - width, 0, rows * ph - height))
        x = x.reshape(n, c, rows, ph, cols, pw).permute(0, 2, 4, 1, 3, 5)
        y = self.conv(self.act(self.norm(x.reshape(n, rows * cols * c, ph, pw))))
        o = self.out_channels
        y = y.reshape(n, rows, cols, o, ph, pw).permute(0, 3, 1, 4, 2, 5)
        return y.reshape(n, o, rows * ph, cols * pw)[:, :, :height, :width]

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, grid={self.grid}"


class HierarchicalRegionLayer(nn.Module):
    """One region layer: a whole-map conv plus three nested patch scales (see module doc)."""

    def __init__(self, in_channels: int, out_channels: int,
                 grids: Sequence[Tuple[int, int]] = DEFAULT_GRIDS):
        super().__init__()
        if out_channels % 4:
            raise ValueError(f"a region layer needs channels divisible by 4, got {out_channels}")
        half, quarter = out_channels // 2, out_channels // 4
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.scales = nn.ModuleList([
            PatchwiseConv(out_channels, half, grids[0]),
            PatchwiseConv(half, quarter, grids[1]),
            PatchwiseConv(quarter, quarter, grids[2]),
        ])
        self.norm = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        branches: List[Tensor] = []
        y = x
        for scale in self.scales:
            y = scale(y)
            branches.append(y)
        return self.act(self.norm(x + torch.cat(branches, dim=1)))


@BACKBONES.register_module()
class JAARegionLearning(nn.Module):
    """JAA-Net's shared feature: two region layers, each followed by a 2×2 max-pool.

    Returns a one-map list like every auzoo backbone: (N, ``widths[-1]``, H/4, W/4).
    Input: the model's normalised images.
    """

    def __init__(self, in_channels: int = 3, widths: Sequence[int] = (32, 64),
                 grids: Sequence[Tuple[int, int]] = DEFAULT_GRIDS):
        super().__init__()
        layers = []
        for width in widths:
            layers += [HierarchicalRegionLayer(in_channels, width, grids), nn.MaxPool2d(2, 2)]
            in_channels = width
        self.body = nn.Sequential(*layers)
        self.out_channels: List[int] = [int(widths[-1])]
        self.out_strides: List[int] = [2 ** len(widths)]

    def forward(self, x: Tensor) -> List[Tensor]:
        return [self.body(x)]


__all__ = ["HierarchicalRegionLayer", "JAARegionLearning", "PatchwiseConv"]
