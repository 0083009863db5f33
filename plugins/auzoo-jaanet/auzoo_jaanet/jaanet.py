"""JAA-Net: joint AU detection and face alignment with adaptive attention.

Shao, Liu, Cai & Ma, "Deep Adaptive Attention for Joint Facial Action Unit
Detection and Face Alignment", ECCV 2018; built after the authors' PyTorch
code of that (v1) model::

    images ─▶ region learning (2 hierarchical multi-scale region layers) ─▶ F (64 × S/4 × S/4)
    F ─▶ alignment trunk ─▶ a (4000) ─▶ FC 512 ─▶ FC 98 ─▶ 49 landmarks
         landmarks ─▶ initial AU maps (no gradient) ─▶ per-AU refinement net ─▶ M_i
    F × M_i ─▶ per-AU trunk ─▶ averaged over the AUs ─▶ l (4000)
    F ─▶ global trunk ─▶ g (4000)
    [a, g, l] ─▶ FC 512 ─▶ FC 2n ─▶ (absent, present) per AU

A trunk is three blocks of conv3×3-BN-ReLU ×2 and a 2×2 max-pool, 96, 128 and
160 channels: 160 × 5 × 5 = 4000 features on JAA-Net's 44 × 44 map.

Sizes. JAA-Net is built for 176 px crops. Here the model runs at any square
input of at least :data:`MIN_INPUT_SIZE` px: the region layers' patch grids
pad a map that does not divide (:class:`~auzoo_jaanet.region.PatchwiseConv`),
the initial attention maps have side S/4 + 8 (52 at 176 px) so that the
refinement's four unpadded convs bring them to F's side, and every trunk ends
in an adaptive average pool to 5 × 5, the identity at 176 px, so the fully
connected layers, the parameter count and the checkpoints do not depend on
the input size (at 64 px the trunks' 2 × 2 maps are spread over the 5 × 5 grid).
The alignment head regresses the 49 points in the pixels of a 176 px crop,
as the authors' does; they are rescaled to the input's pixels.

Output: the two-way softmax of an AU is a sigmoid of the difference of its
two outputs, so the logit auzoo's contract asks for is ``present - absent``
and P(present) = sigmoid(logit), exactly the authors' softmax probability.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
from torch import Tensor, nn

from auzoo.registry import BACKBONES, MODELS, build_part
from auzoo_jaanet.landmarks import NUM_POINTS, au_centres, check_aus, initial_attention

DISFA_AUS = (1, 2, 4, 6, 9, 12, 25, 26)
BP4D_AUS = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
MIN_INPUT_SIZE = 32  # three 2×2 pools in the trunks after the region layers' two
REFINE_SHRINK = 8    # four unpadded 3×3 convs


def _full_precision(like: Tensor):
    """No autocast: a 176 px coordinate in bf16 is only good to half a pixel, and the
    logit is a difference of two outputs."""
    return torch.autocast(device_type=like.device.type, enabled=False)


def _conv_bn_relu(in_channels: int, out_channels: int, groups: int, padding: int = 1):
    return [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=padding, groups=groups),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


class FeatureTrunk(nn.Sequential):
    """JAA-Net's high-level feature extractor, ``groups`` independent copies side by side.

    Copy ``k`` reads input channels ``k*in … (k+1)*in - 1`` and writes output
    channels ``k*160 … (k+1)*160 - 1``; no weight is shared between copies
    (a grouped conv and a BatchNorm over all copies' channels).
    """

    def __init__(self, in_channels: int, unit_dim: int = 8, groups: int = 1, grid: int = 5):
        widths = (unit_dim * 12, unit_dim * 16, unit_dim * 20)
        layers = []
        c = in_channels
        for w in widths:
            layers += _conv_bn_relu(c * groups, w * groups, groups)
            layers += _conv_bn_relu(w * groups, w * groups, groups)
            layers.append(nn.MaxPool2d(2, 2))
            c = w
        layers.append(nn.AdaptiveAvgPool2d(grid))  # identity on JAA-Net's 44 × 44 input map
        super().__init__(*layers)
        self.out_features = widths[-1] * grid * grid  # per copy


class AttentionRefine(nn.Module):
    """One refinement net per AU: 3 × (conv3×3 64, BN, ReLU) + conv3×3 1, all unpadded.

    Input (N, A, L, L) initial maps; output pre-sigmoid logits (N, A, L-8, L-8).
    """

    def __init__(self, num_aus: int, width: int = 64):
        super().__init__()
        a = num_aus
        self.net = nn.Sequential(
            *_conv_bn_relu(a, a * width, a, padding=0),
            *_conv_bn_relu(a * width, a * width, a, padding=0),
            *_conv_bn_relu(a * width, a * width, a, padding=0),
            nn.Conv2d(a * width, a, kernel_size=3, groups=a))

    def forward(self, maps: Tensor) -> Tensor:
        return self.net(maps)


@MODELS.register_module()
class JAANet(nn.Module):
    """JAA-Net (ECCV 2018) for auzoo.

    Args:
        aus: AUs in output order; each needs a centre rule
            (:data:`auzoo_jaanet.landmarks.AU_CENTRE_RULES`).
        region: part config of the shared-feature backbone (a registered
            backbone returning one map).
        unit_dim: JAA-Net's width unit (8: trunks of 96/128/160 channels, FCs of 512).
        trunk_grid: side every trunk output is pooled to (5 = JAA-Net's 4000 features).
        align_frame: the crop size, in pixels, the alignment head regresses in.
        spatial_ratio, fill_coeff: the initial attention's constants.
        local_reduce: 'mean' over the AUs' local features (the authors' PyTorch
            code) or 'sum' (their Caffe model).
    """

    requires_landmarks = False  # JAA-Net predicts its own; training reads the batch's for the loss
    trains_on_landmarks = True

    def __init__(self, aus: Sequence[int] = DISFA_AUS, region: Optional[Dict] = None,
                 unit_dim: int = 8, trunk_grid: int = 5, align_frame: float = 176.0,
                 spatial_ratio: float = 0.14, fill_coeff: float = 0.56, local_reduce: str = "mean"):
        super().__init__()
        self.aus = check_aus(aus)
        if local_reduce not in ("mean", "sum"):
            raise ValueError(f"local_reduce must be 'mean' or 'sum', got {local_reduce!r}")
        n = len(self.aus)
        self.loss_groups = [tuple(range(n))]
        self.align_frame = float(align_frame)
        self.spatial_ratio, self.fill_coeff = spatial_ratio, fill_coeff
        self.local_reduce = local_reduce

        self.region = build_part(BACKBONES, region or dict(type="JAARegionLearning"))
        channels = self.region.out_channels[-1]
        self.align_trunk = FeatureTrunk(channels, unit_dim, grid=trunk_grid)
        features = self.align_trunk.out_features
        # Two linear layers with nothing between them, as in both of the authors' codes.
        self.align_head = nn.Sequential(nn.Linear(features, unit_dim * 64),
                                        nn.Linear(unit_dim * 64, NUM_POINTS * 2))
        self.global_trunk = FeatureTrunk(channels, unit_dim, grid=trunk_grid)
        self.attention_refine = AttentionRefine(n, unit_dim * 8)
        self.local_trunks = FeatureTrunk(channels, unit_dim, groups=n, grid=trunk_grid)
        self.classifier = nn.Sequential(nn.Linear(3 * features, unit_dim * 64),
                                        nn.Linear(unit_dim * 64, 2 * n))

    def _check(self, images: Tensor) -> None:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"JAANet expects RGB images (N, 3, S, S), got {tuple(images.shape)}")
        height, width = images.shape[-2:]
        if height != width or height < MIN_INPUT_SIZE:
            raise ValueError(f"JAANet needs square inputs of at least {MIN_INPUT_SIZE} px, "
                             f"got {height}×{width}")

    def forward_train(self, images: Tensor,
                      landmarks: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Everything the loss needs: ``logits`` (N, A); ``landmarks`` (N, 49, 2) predicted,
        in input pixels; ``attention_init`` (N, A, L, L) and ``attention_logits``
        (N, A, S/4, S/4), the refined maps before their sigmoid. ``landmarks``
        (the data's) is not used: JAA-Net predicts its own."""
        self._check(images)
        n, size = images.shape[0], images.shape[-1]
        feat = self.region((images - 0.5) / 0.5)[-1]  # the authors' [-1, 1] input

        align = self.align_trunk(feat).flatten(1)
        with _full_precision(images):
            points = self.align_head(align.float()).view(n, NUM_POINTS, 2)
        points = points * (size / self.align_frame)

        map_side = feat.shape[-1] + REFINE_SHRINK
        initial = initial_attention(au_centres(points.detach(), self.aus), size, map_side,
                                    self.spatial_ratio, self.fill_coeff).to(feat.dtype)
        refined_logits = self.attention_refine(initial)
        refined = torch.sigmoid(refined_logits)

        # AU a's input is F weighted by its map: channel group a of (N, A*C, h, w).
        weighted = (refined.unsqueeze(2) * feat.unsqueeze(1)).flatten(1, 2)
        local = self.local_trunks(weighted).view(n, len(self.aus), -1)
        local = local.mean(dim=1) if self.local_reduce == "mean" else local.sum(dim=1)

        glob = self.global_trunk(feat).flatten(1)
        with _full_precision(images):
            features = torch.cat([align, glob, local], dim=1).float()
            out = self.classifier(features).view(n, 2, len(self.aus))
        return dict(logits=out[:, 1] - out[:, 0], landmarks=points, attention_init=initial,
                    attention_logits=refined_logits)

    def forward(self, images: Tensor, landmarks: Optional[Tensor] = None) -> Tensor:
        return self.forward_train(images)["logits"]


__all__ = ["AttentionRefine", "BP4D_AUS", "DISFA_AUS", "FeatureTrunk", "JAANet"]
