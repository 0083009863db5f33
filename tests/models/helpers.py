"""Helpers shared by the model tests: the built-in model names, random statistics."""
from __future__ import annotations

import torch
from torch import nn

from auzoo import registry


def builtin_models():
    registry.ensure_loaded()
    return sorted(name for name, prov in registry.CONFIG_PROVIDERS.items() if prov.name == registry.BUILTIN)


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BatchNorm affine parameters and running statistics everywhere, so
    that no normalisation is the identity and eval mode differs from train."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
    return model
