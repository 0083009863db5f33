"""Region splitters: a feature map in, one map per face region out.

A splitter with hard masks over rows (zero outside a band of rows) exposes
``bands(H)``, the row range ``[start, stop)`` of each region; the assembler
then may run zero-preserving branches on the band alone. ``names`` says which
region each output is, in order.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn

from auzoo.registry import SPLITTERS

RowRange = Tuple[int, int]


class RowBandSplitter(nn.Module):
    """Hard 0/1 masks that each keep one band of rows: ``out_i = x * mask_i``."""

    names: Sequence[str] = ()

    def bands(self, height: int) -> List[RowRange]:
        raise NotImplementedError

    def masks(self, height: int, device=None, dtype=None) -> Tensor:
        """(R, H) 0/1 row masks, one per region."""
        masks = torch.zeros(len(self.names), height, device=device, dtype=dtype)
        for mask, (start, stop) in zip(masks, self.bands(height)):
            mask[start:stop] = 1
        return masks

    def forward(self, x: Tensor) -> List[Tensor]:
        masks = self.masks(x.shape[-2], x.device, x.dtype)
        return [x * mask[:, None] for mask in masks]

    def extra_repr(self) -> str:
        return f"names={tuple(self.names)}"


@SPLITTERS.register_module()
class ThreeRegionSplitter(RowBandSplitter):
    """TRA-Net's hard attention: upper, middle and lower face.

    Alignment puts the face centre (midway between nose root and nose tip) at
    the image centre, so its row on an H-row map is y = H // 2. Upper = rows
    above y, lower = rows from y down, middle = a band of H // 2 rows centred on
    y. For H = 28: upper [0, 14), middle [7, 21), lower [14, 28).
    """

    names = ("upper", "middle", "lower")

    def bands(self, height: int) -> List[RowRange]:
        if height < 2:
            raise ValueError(f"ThreeRegionSplitter needs a map at least 2 rows tall, got {height}")
        centre = half = height // 2
        middle_start = centre - half // 2
        return [(0, centre), (middle_start, middle_start + half), (centre, height)]


@SPLITTERS.register_module()
class WholeFaceSplitter(RowBandSplitter):
    """One region, the whole map (models without hard masks)."""

    names = ("face",)

    def bands(self, height: int) -> List[RowRange]:
        return [(0, height)]

    def forward(self, x: Tensor) -> List[Tensor]:
        return [x]


__all__ = ["RowBandSplitter", "ThreeRegionSplitter", "WholeFaceSplitter"]
