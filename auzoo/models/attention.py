"""Attention blocks used inside region branches: CBAM and squeeze-excitation.

Both only multiply their input by gates, so a map that is zero outside a band
of rows stays zero there; they declare ``zero_preserving = True`` and accept
``band=`` to run exactly on the band alone (see :mod:`auzoo.models.bands`).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auzoo.models import bands
from auzoo.models.bands import Band
from auzoo.registry import ATTENTION


def reduced_width(channels: int, reduction: int) -> int:
    return max(1, channels // reduction)


@ATTENTION.register_module()
class SE(nn.Module):
    """Squeeze-and-excitation (Hu et al.): x * sigmoid(fc2(relu(fc1(avgpool(x))))).

    ``residual=True`` returns ``x * gate + x``, the TRA-Net paper's Eq. 3
    ``O = (S_e ⊗ U) ⊕ U``. ``fc1``/``fc2`` are 1x1 convs with bias, the
    layout of the VGGFace2 SENet weights (whose SE blocks this module also
    implements, without the residual: the bottleneck adds its own shortcut).
    """

    zero_preserving = True

    def __init__(self, channels: int, reduction: int = 16, residual: bool = False):
        super().__init__()
        hidden = reduced_width(channels, reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.residual = residual

    def gate(self, x: Tensor, band: Optional[Band] = None) -> Tensor:
        return torch.sigmoid(self.fc2(F.relu(self.fc1(bands.avg_pool(x, band)))))

    def forward(self, x: Tensor, band: Optional[Band] = None) -> Tensor:
        out = x * self.gate(x, band)
        return out + x if self.residual else out

    def extra_repr(self) -> str:
        return f"residual={self.residual}"


class ChannelGate(nn.Module):
    """CBAM's channel attention: one MLP (with biases) shared by the average-
    and the max-pooled descriptors, outputs summed, then a sigmoid."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = reduced_width(channels, reduction)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, channels))

    def forward(self, x: Tensor, band: Optional[Band] = None) -> Tensor:
        n, c = x.shape[:2]
        # One MLP call on both descriptors stacked along the batch.
        pooled = torch.cat([bands.avg_pool(x, band), bands.max_pool(x, band)]).view(2 * n, c)
        avg_logit, max_logit = self.mlp(pooled).view(2, n, c, 1, 1).unbind(0)
        return torch.sigmoid(avg_logit + max_logit)


class SpatialGate(nn.Module):
    """CBAM's spatial attention: [max, mean] over channels -> k x k conv (no
    bias) -> BatchNorm -> sigmoid. BN settings as in the official code."""

    def __init__(self, kernel_size: int = 7, bn_momentum: Optional[float] = 0.01):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"CBAM spatial kernel_size must be odd, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=bn_momentum)

    @staticmethod
    def compress(x: Tensor) -> Tensor:
        return torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], dim=1)

    def forward(self, x: Tensor, band: Optional[Band] = None) -> Tensor:
        squeezed = self.compress(x)
        if band is None or band.is_full:
            return torch.sigmoid(self.bn(self.conv(squeezed)))
        # The conv output is nonzero only on the band widened by the kernel's
        # half-size; those rows (and the zeros elsewhere) make up the full map
        # the BatchNorm must normalise over.
        reach = band.widened(self.conv.kernel_size[0] // 2)
        above, below = band.start - reach.start, reach.stop - band.stop
        logits = self.conv(F.pad(squeezed, (0, 0, above, below)))
        full_count = x.shape[0] * band.height * x.shape[-1]
        logits = bands.batch_norm(logits, self.bn, full_count)
        return torch.sigmoid(logits[:, :, above:above + band.rows])


@ATTENTION.register_module()
class CBAM(nn.Module):
    """Convolutional block attention module (Woo et al., 2018).

    out = x * channel_gate(x) * spatial_gate(x * channel_gate(x)); either gate
    can be switched off (the TRA-Net ablations "w/o AT" and "w/o ST").
    ``residual=True`` returns x + out (TRA-Net's residual ablation); the paper's
    TRA-Net has no residual, so only local information passes.
    """

    zero_preserving = True

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7,
                 channel_attention: bool = True, spatial_attention: bool = True,
                 residual: bool = False, bn_momentum: Optional[float] = 0.01,
                 gate_bias_init: Optional[float] = None):
        super().__init__()
        if not (channel_attention or spatial_attention):
            raise ValueError("CBAM needs channel_attention or spatial_attention (or both)")
        self.channel = ChannelGate(channels, reduction) if channel_attention else None
        self.spatial = SpatialGate(kernel_size, bn_momentum) if spatial_attention else None
        self.residual = residual
        self.gate_bias_init = gate_bias_init
        if gate_bias_init is not None:
            self.open_gates(gate_bias_init)

    @torch.no_grad()
    def open_gates(self, logit: float) -> None:
        """Start both gates at sigmoid(``logit``) on average instead of about 0.5.

        Only the biases before the sigmoids change: the channel MLP's last
        layer (it runs on the average- and the max-pooled descriptor, and the
        two are summed, hence half each) and the spatial BatchNorm's shift.
        """
        if self.channel is not None:
            self.channel.mlp[-1].bias.fill_(logit / 2)
        if self.spatial is not None:
            self.spatial.bn.bias.fill_(logit)

    def channel_gate(self, x: Tensor, band: Optional[Band] = None) -> Optional[Tensor]:
        """The (N, C, 1, 1) channel gate of ``x``, or None if switched off."""
        return None if self.channel is None else self.channel(x, band)

    def spatial_gate(self, x: Tensor, band: Optional[Band] = None) -> Optional[Tensor]:
        """The (N, 1, H, W) spatial gate of ``x``, or None if switched off."""
        return None if self.spatial is None else self.spatial(x, band)

    def forward(self, x: Tensor, band: Optional[Band] = None) -> Tensor:
        out = x
        if self.channel is not None:
            out = out * self.channel(out, band)
        if self.spatial is not None:
            out = out * self.spatial(out, band)
        return x + out if self.residual else out

    def extra_repr(self) -> str:
        return f"residual={self.residual}, gate_bias_init={self.gate_bias_init}"


__all__ = ["SE", "CBAM", "ChannelGate", "SpatialGate"]
