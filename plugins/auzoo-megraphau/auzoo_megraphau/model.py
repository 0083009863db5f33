"""ME-GraphAU: AU relation graphs with multi-dimensional edge features.

Luo, Song, Xie, Shen, Gunes, "Learning Multi-dimensional Edge Feature-based
AU Relation Graph for Facial Action Unit Recognition", IJCAI-ECAI 2022.

One model class serves both stages of the recipe; its ``graph`` part decides
which it is::

    backbone tokens (B, D, in) -> reduction -> X (B, D, C)
        -> AFG -> U (B, N, D, C), V (B, N, C)
        -> graph: FacialGraphGenerator (stage 1) or MEFL (stage 2) -> nodes (B, N, C)
        -> cosine classifier -> logits (B, N)

Stage 2 takes over ``backbone.``, ``token_norm.`` (Swin), ``reduction.``,
``afg.`` and ``classifier.`` from stage 1; the FGG's weights are dropped.

AU intensity: ``intensity_head`` (a ``NodeIntensityHead``) reads each AU's
final node as well, beside the cosine classifier: the model then predicts
both (task 'both'). Not intensity alone: the classifier's cosine is a
probability, not a level, and the graph's edges are learnt from which AUs
co-occur, so ME-GraphAU without its occurrence head would not be ME-GraphAU.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
from torch import Tensor, nn

from auzoo.models.tasks import join_output
from auzoo.registry import BACKBONES, HEADS, MODELS, NECKS, build_part
from auzoo.weights import load_state_dict_strict

DISFA_AUS = (1, 2, 4, 6, 9, 12, 25, 26)
BP4D_AUS = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)


def _channels_last_format(backbone: nn.Module) -> bool:
    """True when the backbone returns (B, H, W, C) maps (timm's Swin does)."""
    fmt = getattr(getattr(backbone, "body", backbone), "output_fmt", "NCHW")
    return str(getattr(fmt, "value", fmt)).upper() == "NHWC"


@MODELS.register_module()
class MEGraphAU(nn.Module):
    """ME-GraphAU on any registered backbone whose last feature map becomes the tokens.

    Args:
        backbone: part config of a registered backbone (``TimmBackbone`` with
            ``resnet50`` / ``swin_base_patch4_window7_224``); its last map
            (B, in, H, W) or (B, H, W, in) is flattened to H*W tokens.
        aus: the AUs scored, in output order (DISFA's 8 by default).
        channels: C, the node and edge width (512 for ResNet-50 and Swin-B).
        graph: part config (NECKS) of the graph: ``FacialGraphGenerator``
            (stage 1; ``neighbor_num`` = K of the k-NN graph) or ``MEFL``.
        token_norm: apply a LayerNorm to the tokens: Swin's final norm, which
            timm's feature extractor leaves out. When the backbone starts from
            a weight file (``backbone.weights``), the norm's weights come from
            the same file (its ``norm.*``, strictly).
        reduction, afg, head: part configs of the shared reduction, the AU
            feature generator and the classifier.
        intensity_head: part config of an intensity head on the final nodes
            (``NodeIntensityHead``): the model predicts occurrence and intensity.
    """

    def __init__(self, backbone: Dict, aus: Sequence[int] = DISFA_AUS, channels: int = 512,
                 graph: Optional[Dict] = None, token_norm: bool = False,
                 reduction: Optional[Dict] = None, afg: Optional[Dict] = None,
                 head: Optional[Dict] = None, intensity_head: Optional[Dict] = None):
        super().__init__()
        self.aus = tuple(int(a) for a in aus)
        if len(set(self.aus)) != len(self.aus) or not self.aus:
            raise ValueError(f"aus must be distinct AU numbers, got {aus}")
        n = len(self.aus)
        self.backbone = build_part(BACKBONES, backbone)
        self.nhwc = _channels_last_format(self.backbone)
        in_channels = int(self.backbone.out_channels[-1])
        self.token_norm = self._final_norm(in_channels) if token_norm else None
        self.reduction = build_part(NECKS, reduction or dict(type="TokenReduction"),
                                    in_channels=in_channels, channels=channels)
        self.afg = build_part(NECKS, afg or dict(type="AUFeatureGenerator"), num_aus=n, channels=channels)
        self.graph = build_part(NECKS, graph or dict(type="FacialGraphGenerator"),
                                num_aus=n, channels=channels)
        self.classifier = build_part(HEADS, head or dict(type="CosineAUClassifier"),
                                     num_aus=n, channels=channels)
        self.intensity_head = (build_part(HEADS, intensity_head, num_aus=n, channels=channels)
                               if intensity_head else None)
        self.task = "both" if self.intensity_head is not None else "occurrence"

    def _final_norm(self, width: int) -> nn.LayerNorm:
        """Swin's final LayerNorm, with the weights of the backbone's file where it has one."""
        norm = nn.LayerNorm(width)
        record = getattr(self.backbone, "init_record", None) or {"weights": "random"}
        if record.get("weights") == "random":
            return norm
        left = getattr(self.backbone, "left_out_weights", None)
        if left is None:
            raise ValueError(f"token_norm: {type(self.backbone).__name__} keeps no tensors of its "
                             f"weight file {record['weights']} beside its feature layers, so the "
                             "final norm cannot be read from it")
        state = {k[len("norm."):]: v for k, v in left.items() if k.startswith("norm.")}
        load_state_dict_strict(norm, state, f"{record['weights']} (the final norm, keys 'norm.*')")
        return norm

    def tokens(self, images: Tensor) -> Tensor:
        """Backbone tokens (B, D, in) of RGB images in [0, 1]."""
        fmap = self.backbone(images)[-1]
        tokens = fmap.flatten(1, 2) if self.nhwc else fmap.flatten(2).transpose(1, 2)
        return self.token_norm(tokens) if self.token_norm is not None else tokens

    def nodes(self, images: Tensor) -> Dict[str, Tensor]:
        """The graph's outputs: final ``nodes`` (B, N, C), and ``edge_logits`` in stage 2."""
        x = self.reduction(self.tokens(images))
        au_tokens, nodes = self.afg(x)
        return self.graph(x, au_tokens, nodes)

    def forward_train(self, images: Tensor, landmarks: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """``logits`` (B, N), and ``edge_logits`` (B, N^2, 4) with a MEFL graph;
        with an intensity head ``intensity_raw``, ``intensity_kind``, ``intensity``."""
        out = dict(self.nodes(images))
        nodes = out.pop("nodes")
        out["logits"] = self.classifier(nodes)
        if self.intensity_head is not None:
            raw = self.intensity_head(nodes)
            out.update(intensity_raw=raw, intensity_kind=self.intensity_head.kind,
                       intensity=self.intensity_head.intensity(raw))
        return out

    def forward(self, images: Tensor, landmarks: Optional[Tensor] = None) -> Tensor:
        """Logits (B, N); with an intensity head, then the N intensities (0-5)."""
        if self.intensity_head is None:
            return self.classifier(self.nodes(images)["nodes"])
        out = self.forward_train(images, landmarks)
        return join_output(out["logits"], out["intensity"], self.task)

    @torch.no_grad()
    def probabilities(self, images: Tensor) -> Tensor:
        """ME-GraphAU's own output: the cosine scores p in [0, 1] (B, N)."""
        return self.classifier.probabilities(self.nodes(images)["nodes"])


__all__ = ["BP4D_AUS", "DISFA_AUS", "MEGraphAU"]
