"""Any timm network as a multi-scale backbone, weights from a local file only."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

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
        weights: a local weight file for the *classification* model (what
            timm's hub holds: ``.pth``/``.bin``/``.safetensors``; for Swin
            also the official repository's ``{'model': ...}`` layout), loaded
            strictly into it before the classifier is cut off. Never downloaded.
        out_indices: feature levels to return (timm's numbering); default all.
        frozen_stages: freeze the first N feature levels and everything before
            them (no gradient, BatchNorm statistics fixed).
        **kwargs: passed to ``timm.create_model`` (``drop_path_rate``, ...).

    The mean/std come from the architecture's timm pretrained config, so the
    input is RGB in [0, 1] like every auzoo backbone.
    """

    def __init__(self, model_name: str, weights: Optional[str] = None,
                 out_indices: Optional[Sequence[int]] = None, frozen_stages: int = 0, **kwargs):
        super().__init__()
        if kwargs.pop("pretrained_file", None) is not None:
            raise TypeError("TimmBackbone: 'pretrained_file' is now called 'weights' "
                            "(model.backbone.weights=FILE), as for every auzoo backbone")
        if not timm.is_model(model_name):
            raise KeyError(f"unknown timm model '{model_name}'")
        self.model_name = model_name
        features_kwargs = dict(kwargs, out_indices=tuple(out_indices)) if out_indices is not None else kwargs
        self.body = timm.create_model(model_name, pretrained=False, features_only=True, **features_kwargs)
        self.init_record: Dict[str, str] = {"weights": "random"}  # see auzoo.weights.backbone_init
        self.left_out_weights: Dict[str, Tensor] = {}  # see load_weights
        if weights is not None:
            self.load_weights(weights, **kwargs)

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

    def load_weights(self, path, **kwargs) -> None:
        """The classification model's weights, checked strictly against the
        full model (so a wrong file names its keys), then the feature part.

        timm's layout loads as it is; the official Swin repository's is renamed
        first (:mod:`auzoo.models.backbones.timm_layouts`). Tensors of the
        classification model that the feature net leaves out, other than the
        classifier (Swin's final ``norm.*``), stay in :attr:`left_out_weights`
        for a model that uses them."""
        from auzoo.models.backbones.timm_layouts import to_timm_layout
        from auzoo.weights import init_record, load_state_dict_file, load_state_dict_strict

        full = timm.create_model(self.model_name, pretrained=False, **kwargs)
        state, layout = to_timm_layout(full, load_state_dict_file(path))
        classifier = f"{full.pretrained_cfg.get('classifier') or 'head'}."
        if layout.get("classifier") == "dropped":  # the feature net never uses it
            state.update({k: v for k, v in full.state_dict().items() if k.startswith(classifier)})
        load_state_dict_strict(full, state, str(path))
        loaded = full.state_dict()
        # features_only flattens top-level sequences: 'stages.1.x' -> 'stages_1.x'.
        state, used = {}, set()
        for key in self.body.state_dict():
            source = key if key in loaded else key.replace("_", ".", 1)
            if source in loaded:
                state[key] = loaded[source]
                used.add(source)
        load_state_dict_strict(self.body, state, f"{path} (the feature layers of {self.model_name})")
        self.left_out_weights = {k: v for k, v in loaded.items()
                                 if k not in used and not k.startswith(classifier)}
        self.init_record = dict(init_record(path), layout=layout["layout"])

    def weights_fix(self) -> str:
        return (f"Give it the local weight file of timm's '{self.model_name}' classification model: "
                "--cfg-options model.backbone.weights=FILE (config key model.backbone.weights). ")

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
