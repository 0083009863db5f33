"""FMAE and FMAE-IAT: a ViT with an AU head, and an identity head behind a gradient reversal.

Ning, Salah, Onal Ertugrul, "Representation Learning and Identity Adversarial
Training for Facial Behavior Understanding" (arXiv 2407.11243; FG 2025)::

    images -> ViT -> mean of patch tokens -> fc_norm -> feature f (N, D)
    f -> AU head (Linear D -> A)                         -> AU logits
    f -> GradReverse(lambda) -> identity head (D -> S)   -> identity logits   (IAT only)

The identity head learns to tell the training subjects apart; the reversal
hands the encoder -lambda times its gradient, so the encoder learns features
the head cannot use to tell who it is. With ``grad_reverse=0`` there is no
identity head (FMAE).
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
from torch import Tensor, nn

from auzoo.registry import BACKBONES, MODELS, build_part

DISFA_AUS = (1, 2, 4, 6, 9, 12, 25, 26)
BP4D_AUS = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)


class GradReverse(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``-lambda``."""

    @staticmethod
    def forward(ctx, x: Tensor, lambda_: float) -> Tensor:
        ctx.lambda_ = float(lambda_)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad.neg() * ctx.lambda_, None


def grad_reverse(x: Tensor, lambda_: float) -> Tensor:
    return GradReverse.apply(x, lambda_)


@MODELS.register_module()
class FMAE(nn.Module):
    """FMAE (``grad_reverse=0``) or FMAE-IAT (``grad_reverse`` = lambda > 0).

    Args:
        backbone: part config of a pooled encoder (``FMAEViT``), (N, D) features.
        aus: the AUs scored, in output order.
        grad_reverse: lambda of the gradient reversal in front of the identity
            head (published: BP4D 2, BP4D+ 1, DISFA 0.5); 0 builds no head.
        train_subjects: the subjects the identity head tells apart, in label
            order: ``auzoo train`` fills it with the fold's training subjects
            (the config says ``train_subjects=None`` to ask for them). Without
            it an IAT model is built for inference only (no identity head).
    """

    def __init__(self, backbone: Dict, aus: Sequence[int] = DISFA_AUS, grad_reverse: float = 0.0,
                 train_subjects: Optional[Sequence[str]] = None):
        super().__init__()
        self.aus = tuple(int(a) for a in aus)
        if len(set(self.aus)) != len(self.aus) or not self.aus:
            raise ValueError(f"aus must be distinct AU numbers, got {aus}")
        if grad_reverse < 0:
            raise ValueError(f"grad_reverse is lambda >= 0, got {grad_reverse}")
        self.backbone = build_part(BACKBONES, backbone)
        dim = int(self.backbone.out_channels[-1])
        self.head = nn.Linear(dim, len(self.aus))
        # Built after timm's init, as the official heads: PyTorch's default
        # init; the fine-tuning then re-draws the AU head's weight (trunc-normal,
        # std 2e-5) and keeps its bias.
        nn.init.trunc_normal_(self.head.weight, std=2e-5)
        self.grad_reverse = float(grad_reverse)
        self.train_subjects = tuple(str(s) for s in train_subjects) if train_subjects else None
        if self.train_subjects is not None and len(set(self.train_subjects)) != len(self.train_subjects):
            raise ValueError(f"train_subjects has repeated names: {self.train_subjects}")
        self.identity_head: Optional[nn.Linear] = None
        if self.grad_reverse and self.train_subjects:
            # PyTorch's default Linear init, as the official ID_head.
            self.identity_head = nn.Linear(dim, len(self.train_subjects))

    @property
    def adversarial(self) -> bool:
        return self.grad_reverse > 0

    def forward_train(self, images: Tensor, landmarks: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """``logits`` (N, A); with IAT also ``identity_logits`` (N, S) behind the reversal."""
        feature = self.backbone(images)
        out = dict(logits=self.head(feature))
        if self.adversarial:
            if self.identity_head is None:
                raise RuntimeError(
                    f"{getattr(self, 'name', 'FMAE')}: identity-adversarial training needs the "
                    "training subjects (model.train_subjects); auzoo train fills them from the fold")
            out["identity_logits"] = self.identity_head(grad_reverse(feature, self.grad_reverse))
        return out

    def forward(self, images: Tensor, landmarks: Optional[Tensor] = None) -> Tensor:
        return self.head(self.backbone(images))


__all__ = ["BP4D_AUS", "DISFA_AUS", "FMAE", "GradReverse", "grad_reverse"]
