"""SENet-50 laid out like the VGGFace2 weights (Cao et al., 2018).

Those weights come from Caffe models whose structure differs from
torchvision's ResNet in two places that change every feature while leaving
every weight shape the same: the stride of a stage's first bottleneck sits on
its 1x1 ``conv1`` (not the 3x3), and the stem max-pool has no padding and
rounds up (``ceil_mode``). Module names follow the weights (SE ``conv4`` /
``conv5`` become ``se.fc1`` / ``se.fc2``; ``auzoo convert-weights`` does the
renaming), so a converted file loads strictly.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
from torch import Tensor, nn

from auzoo.models.attention import SE
from auzoo.registry import BACKBONES

# The VGGFace2 networks take BGR pixels in 0..255 minus this mean, no scaling.
VGGFACE2_MEAN_BGR = (91.4953, 103.8827, 131.0912)


class CaffeSEBottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1, se_reduction: int = 16):
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.se = SE(out_channels, se_reduction)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.se(self.bn3(self.conv3(out)))
        return self.relu(out + shortcut)


@BACKBONES.register_module()
class VGGFace2SENet50(nn.Module):
    """SENet-50 feature extractor with the VGGFace2 layout and input convention.

    Args:
        weights: a state dict file (``.pth``) for this module, e.g. written by
            ``auzoo convert-weights``; loaded strictly and safely.
        frozen_stages: how many of the paper's blocks are frozen (no gradient,
            BatchNorm statistics fixed): 1 = stem, 2 = stem + layer1 (TRA-Net),
            up to 5; 0 trains everything.
        out_indices: which of layer1..layer4 (1..4) to return, shallow first.

    Input: RGB in [0, 1]; output: a list of feature maps, the last the
    2048-channel stride-32 map.
    """

    depths = (3, 4, 6, 3)
    widths = (64, 128, 256, 512)

    def __init__(self, weights: Optional[str] = None, frozen_stages: int = 2,
                 out_indices: Sequence[int] = (1, 2, 3, 4), se_reduction: int = 16):
        super().__init__()
        if not 0 <= frozen_stages <= 5:
            raise ValueError(f"frozen_stages must be in 0..5, got {frozen_stages}")
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in (1, 2, 3, 4) for i in out_indices) \
                or list(out_indices) != sorted(set(out_indices)):
            raise ValueError(f"out_indices must be increasing stage numbers in 1..4, got {out_indices}")
        self.frozen_stages = frozen_stages
        self.out_indices = out_indices

        self.register_buffer("mean_bgr", torch.tensor(VGGFACE2_MEAN_BGR).view(1, 3, 1, 1),
                             persistent=False)
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=0, ceil_mode=True)
        in_channels = 64
        for index, (depth, width) in enumerate(zip(self.depths, self.widths), start=1):
            blocks = []
            for i in range(depth):
                stride = 2 if i == 0 and index > 1 else 1
                blocks.append(CaffeSEBottleneck(in_channels, width, stride, se_reduction))
                in_channels = width * CaffeSEBottleneck.expansion
            self.add_module(f"layer{index}", nn.Sequential(*blocks))

        all_channels = [w * CaffeSEBottleneck.expansion for w in self.widths]
        self.out_channels: List[int] = [all_channels[i - 1] for i in out_indices]
        self.out_strides: List[int] = [2 ** (i + 1) for i in out_indices]

        self.init_record = {"weights": "random"}  # what auzoo.weights.backbone_init reports
        if weights is not None:
            self.load_weights(weights)
        self._freeze()

    # ------------------------------------------------------------ weights
    def load_weights(self, path) -> None:
        """Load a state dict file strictly (``torch.load(weights_only=True)``);
        errors name the file and the missing / unexpected / mis-shaped keys."""
        from auzoo.weights import init_record, load_state_dict_file, load_state_dict_strict

        load_state_dict_strict(self, load_state_dict_file(path), str(path))
        self.init_record = init_record(path)

    @staticmethod
    def weights_fix() -> str:
        return ("Convert the VGGFace2 weights once -- auzoo convert-weights senet50_ft_weight.pkl "
                "senet50_ft.pth -- and pass them: --cfg-options model.backbone.weights=senet50_ft.pth "
                "(config key model.backbone.weights). ")

    # ------------------------------------------------------------ freezing
    def frozen_modules(self) -> List[nn.Module]:
        stages = [nn.ModuleList([self.conv1, self.bn1])] + [getattr(self, f"layer{i}") for i in range(1, 5)]
        return stages[:self.frozen_stages]

    def _freeze(self) -> None:
        for module in self.frozen_modules():
            module.eval()
            for p in module.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()  # frozen BatchNorm statistics must not move
        return self

    # ------------------------------------------------------------ forward
    def forward(self, x: Tensor) -> List[Tensor]:
        x = x.flip(1) * 255.0 - self.mean_bgr  # RGB [0, 1] -> the weights' BGR 0..255
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        features = []
        for index in range(1, 5):
            x = getattr(self, f"layer{index}")(x)
            if index in self.out_indices:
                features.append(x)
            if index == self.out_indices[-1]:
                break
        return features


__all__ = ["VGGFace2SENet50", "CaffeSEBottleneck", "VGGFACE2_MEAN_BGR"]
