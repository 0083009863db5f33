"""TRA-Net's decoder: the stride-32 map back up through the encoder's shapes."""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from auzoo.models.attention import SE
from auzoo.registry import NECKS


class DecoderStep(nn.Module):
    """One step up: 3x3 conv at the coarse resolution, upsample to the skip's
    size, add the skip, BN + ReLU, SE (``x * gate``, or with ``se_residual``
    the paper's Eq. 3, ``x * gate + x``).

    The conv runs *before* upsampling, on a quarter of the pixels; it is the
    only conv of the step, as the paper's decoder has "only one convolutional
    layer at each corresponding block".
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int,
                 se_reduction: int = 16, upsample: str = "nearest", se_residual: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        # A skip whose width differs from the step's is matched by a 1x1 conv.
        self.skip = (nn.Identity() if skip_channels == out_channels
                     else nn.Conv2d(skip_channels, out_channels, 1, bias=False))
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.se = SE(out_channels, se_reduction, residual=se_residual)
        self.upsample = upsample

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(self.conv(x), size=skip.shape[-2:], mode=self.upsample)
        return self.se(self.relu(self.bn(x + self.skip(skip))))


@NECKS.register_module()
class TRADecoder(nn.Module):
    """Decoder with skip connections and SE (TRA-Net, Fig. 1).

    Takes the backbone's feature list and climbs ``steps`` levels from the
    last one, each step landing on the shape of the encoder stage it skips
    from: for SENet-50 at 224 px, 2048x7x7 -> 1024x14x14 -> 512x28x28.

    Args:
        in_channels: the backbone's ``out_channels`` (filled in by the assembler).
        steps: how many levels to climb (TRA-Net: 2, to stride 8).
        out_channels: width of the last step; default the skip stage's width.
        upsample: ``F.interpolate`` mode; nearest keeps each coarse row inside
            the two fine rows it covers, so region boundaries stay aligned.
        se_residual: each step's SE returns ``x * gate + x`` (the paper's
            Eq. 3) rather than ``x * gate``.
    """

    def __init__(self, in_channels: Sequence[int], steps: int = 2, out_channels: Optional[int] = None,
                 se_reduction: int = 16, upsample: str = "nearest", se_residual: bool = False):
        super().__init__()
        in_channels = list(in_channels)
        if not 1 <= steps < len(in_channels):
            raise ValueError(f"TRADecoder with {steps} steps needs at least {steps + 1} backbone "
                             f"feature levels, got {len(in_channels)} ({in_channels})")
        self.steps = steps
        widths = in_channels[-1 - steps:-1][::-1]  # the skip stages, deepest first
        if out_channels is not None:
            widths[-1] = out_channels
        channels = in_channels[-1]
        self.blocks = nn.ModuleList()
        for skip_channels, width in zip(in_channels[-1 - steps:-1][::-1], widths):
            self.blocks.append(DecoderStep(channels, skip_channels, width, se_reduction, upsample,
                                           se_residual))
            channels = width
        self.out_channels = channels

    def forward(self, features: List[Tensor]) -> Tensor:
        x = features[-1]
        for block, skip in zip(self.blocks, features[-2::-1]):
            x = block(x, skip)
        return x


__all__ = ["TRADecoder", "DecoderStep"]
