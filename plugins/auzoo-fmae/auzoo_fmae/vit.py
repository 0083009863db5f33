"""FMAE's encoder: timm's VisionTransformer, its patch tokens averaged and normalised.

As the official ``models_vit.VisionTransformer(global_pool=True)``: the mean
of the patch tokens (the class token left out) goes through ``fc_norm``, a
LayerNorm (eps 1e-6); the final ``norm`` of a class-token ViT is not there.
timm builds exactly that with ``global_pool='avg'`` (``fc_norm`` on,
``norm`` an identity), so parameter names are timm's, which are also the
names of the released checkpoints.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import timm
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models.vision_transformer import VisionTransformer
from torch import Tensor, nn

from auzoo.registry import BACKBONES


@BACKBONES.register_module()
class FMAEViT(nn.Module):
    """A timm ViT returning the pooled, normalised feature (N, D) of RGB images in [0, 1].

    Args:
        model_name: a timm ViT (``vit_base_patch16_224``, ``vit_large_patch16_224``).
        img_size: input size; the position embedding is built for it (and a
            weight file's is resampled to it).
        drop_path_rate: stochastic depth, rising linearly over the blocks to
            this rate (the official default 0.1).
        weights: a local file: a face-MAE pre-training checkpoint of the
            official code, or timm's classification weights of the same ViT
            (:mod:`auzoo_fmae.weights`). Never downloaded.
        mean, std: the input normalisation inside the model (ImageNet's, as
            the official fine-tuning; timm's AugReg weights expect 0.5).
        **kwargs: more ``timm.create_model`` arguments (``patch_size``,
            ``depth``, ``embed_dim``, ``num_heads`` for a smaller ViT).
    """

    def __init__(self, model_name: str = "vit_base_patch16_224", img_size: int = 224,
                 drop_path_rate: float = 0.1, weights: Optional[str] = None,
                 mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
                 std: Sequence[float] = IMAGENET_DEFAULT_STD, **kwargs):
        super().__init__()
        if not timm.is_model(model_name):
            raise KeyError(f"unknown timm model '{model_name}'")
        self.model_name = model_name
        self.vit = timm.create_model(model_name, pretrained=False, num_classes=0,
                                     global_pool="avg", img_size=img_size,
                                     drop_path_rate=drop_path_rate, **kwargs)
        if not isinstance(self.vit, VisionTransformer) or isinstance(self.vit.fc_norm, nn.Identity):
            raise TypeError(f"FMAEViT: '{model_name}' is not a ViT with average pooling and fc_norm")
        self.embed_dim = int(self.vit.num_features)
        self.out_channels = [self.embed_dim]
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        self.init_record: Dict[str, str] = {"weights": "random"}  # see auzoo.weights.backbone_init
        self.load_record: Optional[dict] = None
        if weights is not None:
            self.load_weights(weights)

    @property
    def depth(self) -> int:
        return len(self.vit.blocks)

    def load_weights(self, path) -> dict:
        """The encoder of ``path`` (strictly; see :func:`auzoo_fmae.weights.load_vit_weights`)."""
        from auzoo.weights import init_record

        from auzoo_fmae.weights import load_vit_weights

        self.load_record = load_vit_weights(self.vit, path)
        self.init_record = init_record(path)
        return self.load_record

    def weights_fix(self) -> str:
        return ("Give it a local face-MAE pre-training checkpoint or timm's weights of "
                f"'{self.model_name}': --cfg-options model.backbone.weights=FILE. ")

    def forward(self, x: Tensor) -> Tensor:
        """(N, D): mean of the patch tokens after the last block, through fc_norm."""
        return self.vit((x - self.mean) / self.std)


__all__ = ["FMAEViT"]
