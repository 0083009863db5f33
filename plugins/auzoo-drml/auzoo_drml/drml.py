"""DRML: Deep Region and Multi-label Learning for facial action unit detection.

Zhao, Chu & Zhang, "Deep Region and Multi-label Learning for Facial Action Unit
Detection", CVPR 2016.

DRML's idea is the *region layer*: facial regions move differently, so a
convolution whose weights are shared over the whole face learns an average of
them. The region layer cuts a feature map into an 8×8 grid of patches and gives
every patch its own BatchNorm → ReLU → 3×3 convolution, added back to the patch
(a residual per patch). Nothing crosses a patch border: each patch is padded on
its own, as if it were a separate image.

The network around it follows the paper::

    conv1 11×11×32 → region layer → max-pool 2×2 → conv 8×8×16 → conv 8×8×16
    → conv 6×6×16 → conv 5×5×16 → FC 4096 → FC 2048 → one logit per AU

Choices where the paper leaves freedom or where auzoo's contract differs:

* Input: RGB in [0, 1] as every auzoo model takes it, normalised inside with
  the ImageNet mean and std (DRML is trained from scratch; any fixed
  normalisation does, but it must live inside the model).
* Size: the paper feeds 170×170 faces, where conv1 leaves a 160×160 map and
  every patch is 20×20. The model runs at any input of at least
  :data:`MIN_INPUT_SIZE` pixels: the grid always has 8×8 patches (a map that
  does not divide evenly is zero-padded to one that does, see
  :class:`RegionLayer`), and an adaptive average pool brings the last conv map
  to ``pooled_size`` × ``pooled_size`` before the fully connected layers, so
  their size does not depend on the input. (At 170 px the last map is 57×57; flattening it as is
  would put 213M weights into FC 4096.)
* Output: logits; the multi-label sigmoid cross-entropy of the paper is auzoo's
  training loss over one group holding every AU.
* Initialisation: He (fan-in, ReLU) for every conv and FC layer, zero biases,
  the last layer near zero. The paper trains from scratch and does not say
  how it initialises; with PyTorch's default init the signal reaching the
  logits is ~50 times weaker than the input's and the model stays at the label
  prior: F1 0.0 on every AU of the synthetic demo (cpu-demo, fold 1), against
  65.0 with He initialisation (always-present: 30.1).
* Pooling: :class:`auzoo.models.pooling.GridAvgPool2d`, the same function as
  ``nn.AdaptiveAvgPool2d`` with a backward that is deterministic on CUDA.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch import nn

from auzoo.models.au_regions import resolve_aus
from auzoo.models.pooling import GridAvgPool2d
from auzoo.registry import MODELS

# conv1 takes 10 pixels, the max-pool halves, the four convs after it take
# 7 + 7 + 5 + 4: (S - 10) / 2 - 23 >= 1.
MIN_INPUT_SIZE = 58


class RegionLayer(nn.Module):
    """DRML's region layer: one BN → ReLU → 3×3 conv per patch of a grid, plus the patch.

    ``grid`` is (rows, columns). All patches run at once: the map is rearranged
    so that patch ``k = i * columns + j`` becomes channels ``k*C … (k+1)*C - 1``
    of a patch-sized tensor, where a BatchNorm over ``rows*columns*C`` channels
    and a convolution with ``groups = rows*columns`` give every patch its own
    statistics and weights, and each patch is zero-padded on its own.
    :meth:`patch_parameters` returns the slices patch ``k`` owns.

    A map that does not divide into the grid is zero-padded at the bottom and
    right to the next multiple of it, and the output is cropped back: the last
    row and column of patches then hold some zeros.
    """

    def __init__(self, channels: int, grid: Tuple[int, int] = (8, 8)):
        super().__init__()
        self.channels = channels
        self.grid = (int(grid[0]), int(grid[1]))
        patches = self.grid[0] * self.grid[1]
        self.norm = nn.BatchNorm2d(patches * channels)
        self.act = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(patches * channels, patches * channels, kernel_size=3, padding=1,
                              groups=patches)

    def patch_parameters(self, k: int) -> Dict[str, torch.Tensor]:
        """Views of the parameters patch ``k`` (row-major) owns."""
        own = slice(k * self.channels, (k + 1) * self.channels)
        return {"norm.weight": self.norm.weight[own], "norm.bias": self.norm.bias[own],
                "conv.weight": self.conv.weight[own], "conv.bias": self.conv.bias[own]}

    def patch_responses(self, x: torch.Tensor) -> torch.Tensor:
        """Each patch's own BN → ReLU → conv output, put back in place (no residual)."""
        rows, cols = self.grid
        n, c, height, width = x.shape
        if height < rows or width < cols:
            raise ValueError(f"RegionLayer: a {height}×{width} map cannot be cut into "
                             f"a {rows}×{cols} grid of patches")
        ph, pw = -(-height // rows), -(-width // cols)
        x = F.pad(x, (0, cols * pw - width, 0, rows * ph - height))
        # (N, C, rows*ph, cols*pw) -> (N, rows*cols*C, ph, pw): patch k in channel group k
        x = x.reshape(n, c, rows, ph, cols, pw).permute(0, 2, 4, 1, 3, 5)
        y = self.conv(self.act(self.norm(x.reshape(n, rows * cols * c, ph, pw))))
        y = y.reshape(n, rows, cols, c, ph, pw).permute(0, 3, 1, 4, 2, 5)
        return y.reshape(n, c, rows * ph, cols * pw)[:, :, :height, :width]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.patch_responses(x)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, grid={self.grid}"


def _conv_relu(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size), nn.ReLU(inplace=True))


@MODELS.register_module()
class DRML(nn.Module):
    """Deep Region and Multi-label Learning (Zhao et al., CVPR 2016).

    Args:
        aus: the AUs predicted, in output order; None: DISFA's eight (the
            engine fills in the dataset's AUs when a config leaves them None).
        grid: patches of the region layer (rows, columns); the paper's 8×8.
        pooled_size: side of the map the last conv output is average-pooled to
            before FC 4096.
        dropout: dropout after each of the two hidden FC layers.
    """

    requires_landmarks = False

    def __init__(self, aus: Optional[Sequence[int]] = None, grid: Tuple[int, int] = (8, 8),
                 pooled_size: int = 16, dropout: float = 0.5):
        super().__init__()
        self.aus = resolve_aus(aus)  # None: DISFA's eight
        self.loss_groups = [tuple(range(len(self.aus)))]
        self.register_buffer("mean", torch.tensor(IMAGENET_DEFAULT_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_DEFAULT_STD).view(1, 3, 1, 1),
                             persistent=False)

        self.conv1 = nn.Conv2d(3, 32, kernel_size=11)
        self.region = RegionLayer(32, grid)
        self.features = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            _conv_relu(32, 16, 8),
            _conv_relu(16, 16, 8),
            _conv_relu(16, 16, 6),
            _conv_relu(16, 16, 5),
        )
        self.pool = GridAvgPool2d(pooled_size)  # AdaptiveAvgPool2d, deterministic on CUDA too
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * pooled_size * pooled_size, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 2048),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(2048, len(self.aus)),
        )
        self.init_weights()

    def init_weights(self) -> None:
        """He initialisation (fan-in, ReLU) for every conv and FC layer, zero biases.

        DRML trains from scratch through seven ReLU layers without
        normalisation; PyTorch's default init (uniform, gain 1/sqrt(3) per
        layer) shrinks the signal about 50-fold by the logits, so the network
        starts out, and stays, at the label prior ("absent" everywhere).
        """
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(module.bias)
        last = self.classifier[-1]
        nn.init.normal_(last.weight, std=0.001)  # logits start near 0: p = 0.5 for every AU

    def forward(self, images: torch.Tensor,
                landmarks: Optional[torch.Tensor] = None) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"DRML expects RGB images (N, 3, H, W), got {tuple(images.shape)}")
        if min(images.shape[-2:]) < MIN_INPUT_SIZE:
            raise ValueError(f"DRML needs inputs of at least {MIN_INPUT_SIZE}×{MIN_INPUT_SIZE} "
                             f"pixels, got {tuple(images.shape[-2:])}")
        x = (images - self.mean) / self.std
        x = self.region(self.conv1(x))
        x = self.pool(self.features(x))
        return self.classifier(x)
