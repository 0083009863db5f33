"""What the plugin's tests share: a tiny ViT config and files in the official layouts."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Dict

import timm
import torch

# A small ViT with every part of ViT-B/L (patch embedding, class token,
# position embedding, blocks, fc_norm): fast to build, save and load.
TINY = dict(embed_dim=64, depth=3, num_heads=2)


def tiny_backbone(**extra) -> dict:
    return dict(type="FMAEViT", model_name="vit_base_patch16_224", img_size=64,
                drop_path_rate=0.0, **TINY, **extra)


def mae_state(model_name: str = "vit_base_patch16_224", img_size: int = 64, seed: int = 0,
              decoder_dim: int = 32, **vit_kwargs) -> Dict[str, torch.Tensor]:
    """The ``model`` state dict of an official MAE pre-training checkpoint, from
    a random timm ViT of that config: the encoder (class-token ViT with its final
    ``norm``), ``mask_token`` and the decoder layers (``decoder_embed``,
    ``decoder_pos_embed``, ``decoder_blocks.N``, ``decoder_norm``, ``decoder_pred``)."""
    torch.manual_seed(seed)
    vit_kwargs = vit_kwargs or dict(TINY)
    encoder = timm.create_model(model_name, pretrained=False, num_classes=0, global_pool="token",
                                img_size=img_size, **vit_kwargs)
    state = dict(encoder.state_dict())
    assert "norm.weight" in state and "fc_norm.weight" not in state
    dim, tokens = encoder.embed_dim, encoder.pos_embed.shape[1]
    patch = encoder.patch_embed.patch_size[0]
    decoder = timm.create_model(model_name, pretrained=False, num_classes=0, img_size=img_size,
                                embed_dim=decoder_dim, depth=1, num_heads=2)
    state["mask_token"] = torch.zeros(1, 1, decoder_dim)
    state["decoder_embed.weight"] = torch.randn(decoder_dim, dim)
    state["decoder_embed.bias"] = torch.zeros(decoder_dim)
    state["decoder_pos_embed"] = torch.randn(1, tokens, decoder_dim)
    for key, value in decoder.blocks.state_dict().items():
        state[f"decoder_blocks.{key}"] = value
    state["decoder_norm.weight"] = torch.ones(decoder_dim)
    state["decoder_norm.bias"] = torch.zeros(decoder_dim)
    state["decoder_pred.weight"] = torch.randn(patch * patch * 3, decoder_dim)
    state["decoder_pred.bias"] = torch.zeros(patch * patch * 3)
    return state


def write_pretrain_checkpoint(path: Path, state: Dict[str, torch.Tensor]) -> Path:
    """``checkpoint-<epoch>.pth`` as the official ``save_model`` writes it."""
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
    torch.save(dict(model=state, optimizer=opt.state_dict(), epoch=49,
                    scaler=dict(scale=65536.0, growth_factor=2.0, backoff_factor=0.5,
                                growth_interval=2000, _growth_tracker=0),
                    args=argparse.Namespace(model="mae_vit_base_patch16", mask_ratio=0.75,
                                            norm_pix_loss=True, blr=1.5e-4, epochs=50,
                                            data_path="/data/face9m")), path)
    return path
