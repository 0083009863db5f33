"""JAA-Lite: landmark-centred AU attention on a backbone's feature map.

In the spirit of JAA-Net (Shao et al., ECCV 2018) and EAC-Net (Li et al.,
TPAMI 2018): every AU looks at the face through its own attention map, centred
on points derived from the facial landmarks (:mod:`auzoo_jaa_lite.au_centres`),
and has its own small head::

    images ─▶ backbone ─▶ neck (optional) ─▶ 1×1 conv to `width` channels ─┐
    landmarks ─▶ AU centres ─▶ attention map per AU ───────────────────────┴▶ × ─▶ per-AU
        3×3 conv block × 2 ─▶ global average pool ─▶ per-AU linear ─▶ AU logit

What is lighter than JAA-Net: the landmarks come from the data (the cache's
aligned landmarks, or the face detector's at prediction time) instead of a face
alignment branch trained jointly; the predefined attention is used as it is,
without JAA-Net's learned refinement; the features come from any registered
backbone (and neck) instead of JAA-Net's hierarchical region learning.

The per-AU heads run as grouped convolutions: AU ``a``'s weighted features are
channels ``a*width … (a+1)*width - 1`` and no weight mixes two AUs.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

from torch import Tensor, nn

from auzoo.registry import BACKBONES, MODELS, NECKS, build_part
from auzoo_jaa_lite.au_centres import au_attention_maps, au_centres, check_aus

DISFA_AUS = (1, 2, 4, 6, 9, 12, 25, 26)


def _grouped_conv_block(groups: int, width: int) -> nn.Sequential:
    channels = groups * width
    return nn.Sequential(
        nn.Conv2d(channels, channels, kernel_size=3, padding=1, groups=groups, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
    )


@MODELS.register_module()
class JAALite(nn.Module):
    """Per-AU landmark attention over one feature map, one head per AU.

    Args:
        aus: the AUs predicted, in output order; each needs a rule in
            :data:`auzoo_jaa_lite.au_centres.AU_CENTRE_RULES`.
        backbone: part config of any registered backbone (it returns a list of
            feature maps and declares ``out_channels``).
        neck: optional part config of a registered neck that turns the
            backbone's list into one map (e.g. ``TRADecoder``).
        feature_level: without a neck, which of the backbone's maps to use.
        width: channels each AU's head works on.
        spatial_ratio, fill_coeff: JAA-Net's attention constants.
        supersample: attention points per feature-map cell and axis.
    """

    requires_landmarks = True

    def __init__(self, backbone: Dict, aus: Sequence[int] = DISFA_AUS, neck: Optional[Dict] = None,
                 feature_level: int = -1, width: int = 64, spatial_ratio: float = 0.14,
                 fill_coeff: float = 0.56, supersample: int = 4):
        super().__init__()
        self.aus = check_aus(aus)
        if len(set(self.aus)) != len(self.aus):
            raise ValueError(f"model aus {self.aus} name an AU twice")
        self.loss_groups = [tuple(range(len(self.aus)))]
        self.spatial_ratio = spatial_ratio
        self.fill_coeff = fill_coeff
        self.supersample = supersample

        self.backbone = build_part(BACKBONES, backbone)
        self.feature_level = feature_level
        self.neck = None
        if neck:
            self.neck = build_part(NECKS, neck, in_channels=list(self.backbone.out_channels))
            channels = self.neck.out_channels
        else:
            channels = self.backbone.out_channels[feature_level]

        num_aus = len(self.aus)
        self.width = width
        self.reduce = nn.Sequential(
            nn.Conv2d(channels, width, kernel_size=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        self.au_heads = nn.Sequential(_grouped_conv_block(num_aus, width),
                                      _grouped_conv_block(num_aus, width))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Conv2d(num_aus * width, num_aus, kernel_size=1, groups=num_aus)

    def features(self, images: Tensor) -> Tensor:
        maps = self.backbone(images)
        return self.neck(maps) if self.neck is not None else maps[self.feature_level]

    def attention(self, landmarks: Tensor, image_size, map_size) -> Tensor:
        """(N, A, h, w) attention for a feature map of ``map_size`` over images of ``image_size``."""
        centres = au_centres(landmarks.float(), self.aus)
        return au_attention_maps(centres, tuple(image_size), tuple(map_size), self.spatial_ratio,
                                 self.fill_coeff, self.supersample)

    def forward(self, images: Tensor, landmarks: Optional[Tensor] = None) -> Tensor:
        if landmarks is None:
            raise ValueError("JAALite needs the faces' landmarks: model(images, landmarks) with "
                             "landmarks (N, 66, 2) in pixels of the input images")
        if landmarks.shape[0] != images.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {landmarks.shape[0]} landmark sets")
        x = self.reduce(self.features(images))  # (N, width, h, w)
        attention = self.attention(landmarks, images.shape[-2:], x.shape[-2:]).to(x.dtype)
        local = (attention.unsqueeze(2) * x.unsqueeze(1)).flatten(1, 2)  # (N, A*width, h, w)
        return self.classifier(self.pool(self.au_heads(local))).flatten(1)


__all__ = ["JAALite"]
