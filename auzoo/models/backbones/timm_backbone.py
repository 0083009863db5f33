"""Any timm network as a multi-scale backbone, weights from a local file only."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

import timm
import torch
from torch import Tensor, nn

from auzoo.registry import BACKBONES


@BACKBONES.register_module()
class TimmBackbone(nn.Module):
    """``timm.create_model(model_name, features_only=True)`` with its own input
    normalisation inside.

    Args:
        model_name: any timm architecture name (``resnet50``, ``convnext_tiny`` ...).
        pretrained_file: a local weight file for the *classification* model
            (what timm's hub holds: ``.pth``/``.bin``/``.safetensors``); timm
            loads it before cutting off the classifier. Never downloaded.
        out_indices: feature levels to return (timm's numbering); default all.
        frozen_stages: freeze the first N feature levels and everything before
            them (no gradient, BatchNorm statistics fixed).
        **kwargs: passed to ``timm.create_model`` (``drop_path_rate``, ...).

    The mean/std come from the architecture's timm pretrained config, so the
    input is RGB in [0, 1] like every auzoo backbone.
    """

    def __init__(self, model_name: str, pretrained_file: Optional[str] = None,
                 out_indices: Optional[Sequence[int]] = None, frozen_stages: int = 0, **kwargs):
        super().__init__()
        if not timm.is_model(model_name):
            raise KeyError(f"unknown timm model '{model_name}'")
        overlay = None
        if pretrained_file is not None:
            path = Path(pretrained_file)
            if not path.is_file():
                raise FileNotFoundError(f"TimmBackbone weights file not found: {path}")
            overlay = dict(file=str(path))
        if out_indices is not None:
            kwargs["out_indices"] = tuple(out_indices)
        try:
            self.body = timm.create_model(model_name, pretrained=overlay is not None,
                                          pretrained_cfg_overlay=overlay, features_only=True, **kwargs)
        except RuntimeError as exc:  # timm's strict load: missing / unexpected / mis-shaped keys
            if overlay is None:
                raise
            raise ValueError(f"{pretrained_file}: does not fit timm model '{model_name}': {exc}") from exc

        cfg = self.body.pretrained_cfg
        self.register_buffer("mean", torch.tensor(cfg["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg["std"]).view(1, 3, 1, 1), persistent=False)
        info = self.body.feature_info
        self.out_channels: List[int] = list(info.channels())
        self.out_strides: List[int] = list(info.reduction())

        levels = info.info
        if not 0 <= frozen_stages <= len(levels):
            raise ValueError(f"frozen_stages must be in 0..{len(levels)} for {model_name}, got {frozen_stages}")
        self.frozen_stages = frozen_stages
        self._frozen = self._modules_through(levels[frozen_stages - 1]["module"]) if frozen_stages else []
        for module in self._frozen:
            module.eval()
            for p in module.parameters():
                p.requires_grad_(False)

    def _modules_through(self, name: str) -> List[nn.Module]:
        """The body's top-level modules up to and including feature module ``name``."""
        # features_only networks flatten nested names: 'stages.1' -> 'stages_1'.
        target = name.replace(".", "_")
        modules = []
        for child_name, child in self.body.named_children():
            modules.append(child)
            if child_name == target:
                return modules
        raise ValueError(f"cannot freeze through '{name}': the truncated network has no such module")

    def train(self, mode: bool = True):
        super().train(mode)
        for module in self._frozen:
            module.eval()
        return self

    def forward(self, x: Tensor) -> List[Tensor]:
        return self.body((x - self.mean) / self.std)


__all__ = ["TimmBackbone"]
