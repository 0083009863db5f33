"""FMAE's loss: BCE on the AUs, plus the identity term of FMAE-IAT.

The official criterion is ``BCEWithLogitsLoss()`` (mean over batch x labels,
no weights) for the AU logits, and the *same* criterion on the identity
logits against one-hot identities (a multi-label BCE, not a softmax
cross-entropy), added with weight 1: lambda acts only through the gradient
reversal in the model.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auzoo.engine.losses import masked_mean
from auzoo.registry import LOSSES

IDENTITY_LOSSES = ("bce", "ce")


@LOSSES.register_module()
class FMAELoss(nn.Module):
    """``loss_au`` (+ ``loss_identity`` where the model gives ``identity_logits``).

    Args:
        identity_loss: ``'bce'`` (published: BCE against the one-hot identity,
            mean over batch x subjects) or ``'ce'`` (softmax cross-entropy).

    The AU term is the mean BCE over the coded labels (with every label coded,
    the official mean over batch x AUs). Identity labels are the positions of
    the frames' subjects in the model's ``train_subjects``, read from the
    batch's ``subject`` names; :meth:`bind` takes that list from the model.
    """

    def __init__(self, identity_loss: str = "bce"):
        super().__init__()
        if identity_loss not in IDENTITY_LOSSES:
            raise ValueError(f"FMAELoss: identity_loss must be one of {IDENTITY_LOSSES}, "
                             f"not {identity_loss!r}")
        self.identity_loss = identity_loss
        self.subject_index: Optional[Dict[str, int]] = None

    def bind(self, model: nn.Module, train_labels: Optional[np.ndarray] = None) -> None:
        subjects = getattr(model, "train_subjects", None)
        self.subject_index = {s: i for i, s in enumerate(subjects)} if subjects else None

    def identities(self, batch: Optional[dict], device: torch.device) -> Tensor:
        """(N,) int64: each frame's subject's position in the training subjects."""
        if self.subject_index is None:
            raise RuntimeError("FMAELoss.bind(model) must be called with a model that has "
                               "train_subjects before identity logits are scored")
        names = (batch or {}).get("subject")
        if names is None:
            raise ValueError("FMAELoss: the batch carries no 'subject' names for the identity labels")
        unknown = sorted({str(s) for s in names} - set(self.subject_index))
        if unknown:
            raise ValueError(f"FMAELoss: subject(s) {', '.join(unknown)} are not among the "
                             f"training subjects the identity head knows "
                             f"({', '.join(self.subject_index)})")
        return torch.tensor([self.subject_index[str(s)] for s in names], dtype=torch.long,
                            device=device)

    def forward(self, outputs: Dict[str, Tensor], labels: Tensor, mask: Tensor,
                batch: Optional[dict] = None) -> Dict[str, Tensor]:
        logits = outputs["logits"].float()
        bce = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")
        losses = dict(loss_au=masked_mean(bce, mask))
        if "identity_logits" in outputs:
            id_logits = outputs["identity_logits"].float()
            target = self.identities(batch, id_logits.device)
            if self.identity_loss == "bce":
                one_hot = F.one_hot(target, id_logits.shape[1]).to(id_logits.dtype)
                losses["loss_identity"] = F.binary_cross_entropy_with_logits(id_logits, one_hot)
            else:
                losses["loss_identity"] = F.cross_entropy(id_logits, target)
        return losses


__all__ = ["FMAELoss", "IDENTITY_LOSSES"]
