"""Loading the released face-MAE pre-training checkpoints (and timm's ViT weights)
into FMAE's ViT, strictly; files are written here in the official layout from
random timm ViTs of the model's config."""
from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F

import auzoo
from auzoo.registry import BACKBONES, build_part
from auzoo.weights import WeightsMismatchError
from fmae_support import TINY, mae_state, tiny_backbone, write_pretrain_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    state = mae_state()
    path = write_pretrain_checkpoint(tmp_path_factory.mktemp("mae") / "checkpoint-49.pth", state)
    return path, state


def test_a_pretraining_checkpoint_loads_its_encoder_and_drops_the_rest(checkpoint):
    path, state = checkpoint
    vit = build_part(BACKBONES, tiny_backbone(weights=str(path)))
    loaded = vit.vit.state_dict()
    encoder = [k for k in state if not k.startswith(("decoder_", "mask_token", "norm."))]
    assert len(encoder) == len(loaded) - 2  # all but fc_norm.weight / .bias
    for key in encoder:
        assert torch.equal(loaded[key], state[key]), key
    # fc_norm starts fresh (the encoder's final norm is not it)
    assert torch.equal(loaded["fc_norm.weight"], torch.ones(TINY["embed_dim"]))
    assert torch.equal(loaded["fc_norm.bias"], torch.zeros(TINY["embed_dim"]))
    record = vit.load_record
    assert record["format"] == "face-MAE pre-training" and record["fc_norm"] == "fresh"
    assert record["dropped"] == ["decoder_*", "mask_token", "norm*"]
    assert vit.init_record["weights"] == path.name and len(vit.init_record["sha256"]) == 64


def test_the_position_embedding_is_resampled_to_another_grid(checkpoint):
    """224 px / 16 = 14 x 14 in the file -> 4 x 4 at 64 px (the official bicubic
    interpolation of the patch part, the class token kept)."""
    path, _ = checkpoint
    big = mae_state(img_size=224, seed=1)
    file = write_pretrain_checkpoint(path.parent / "checkpoint-224.pth", big)
    vit = build_part(BACKBONES, tiny_backbone(weights=str(file)))
    got = vit.vit.pos_embed.detach()
    assert got.shape == (1, 1 + 16, TINY["embed_dim"])
    grid = big["pos_embed"][:, 1:].reshape(1, 14, 14, -1).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, size=(4, 4), mode="bicubic", align_corners=False)
    expected = expected.permute(0, 2, 3, 1).reshape(1, 16, -1)
    assert torch.allclose(got[:, 1:], expected, atol=1e-6)
    assert torch.equal(got[:, :1], big["pos_embed"][:, :1])
    assert vit.load_record["pos_embed"].startswith("resampled (1, 197")


def test_timm_classification_weights_are_the_alternative(tmp_path):
    torch.manual_seed(2)
    timm_vit = timm.create_model("vit_base_patch16_224", pretrained=False, img_size=64,
                                 num_classes=1000, **TINY)  # class-token ViT + ImageNet head
    path = tmp_path / "vit_imagenet.pth"
    torch.save(timm_vit.state_dict(), path)
    vit = build_part(BACKBONES, tiny_backbone(weights=str(path)))
    assert vit.load_record["format"] == "ViT classification"
    assert vit.load_record["dropped"] == ["head*", "norm*"]
    assert torch.equal(vit.vit.blocks[2].mlp.fc2.weight, timm_vit.blocks[2].mlp.fc2.weight)


def test_the_model_config_takes_the_file(checkpoint):
    path, state = checkpoint
    model = auzoo.build_model("fmae_iat_vitb", **{
        "backbone.weights": str(path), "backbone.img_size": 64, **{
            f"backbone.{k}": v for k, v in TINY.items()}})
    assert torch.equal(model.backbone.vit.patch_embed.proj.weight,
                       state["patch_embed.proj.weight"])


@pytest.mark.parametrize("change, message", [
    (dict(depth=4), "missing from the file 12: blocks.3."),  # a deeper ViT than the file
    (dict(embed_dim=96, num_heads=2), "other shapes"),       # another width
])
def test_a_checkpoint_of_another_vit_is_refused_with_its_keys(checkpoint, change, message):
    path, _ = checkpoint
    with pytest.raises(WeightsMismatchError) as err:
        build_part(BACKBONES, dict(tiny_backbone(weights=str(path)), **change))
    assert str(path) in str(err.value) and message in str(err.value)


def test_unknown_keys_are_refused_not_skipped(checkpoint, tmp_path):
    _, state = checkpoint
    odd = dict(state, **{"ID_head.weight": torch.zeros(41, TINY["embed_dim"])})
    path = write_pretrain_checkpoint(tmp_path / "finetuned.pth", odd)
    with pytest.raises(WeightsMismatchError, match=r"not a ViT encoder key 1: ID_head.weight"):
        build_part(BACKBONES, tiny_backbone(weights=str(path)))
    resnet = timm.create_model("resnet18", pretrained=False)
    path = tmp_path / "resnet18.pth"
    torch.save(resnet.state_dict(), path)
    with pytest.raises(WeightsMismatchError, match="resnet18.pth: not the encoder") as err:
        build_part(BACKBONES, tiny_backbone(weights=str(path)))
    assert "missing from the file" in str(err.value) and "conv1.weight" in str(err.value)


class _Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_a_file_with_code_in_it_is_not_unpickled(checkpoint, tmp_path, capsys):
    _, state = checkpoint
    path = tmp_path / "evil.pth"
    torch.save(dict(model=state, extra=_Payload()), path)
    with pytest.raises(ValueError, match="evil.pth: not loadable as a weights-only"):
        build_part(BACKBONES, tiny_backbone(weights=str(path)))
    assert "code ran" not in capsys.readouterr().out
