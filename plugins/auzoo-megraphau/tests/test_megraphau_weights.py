"""Weight files load strictly: a file that does not fit is an error naming it and its keys."""
import pytest
import torch
from torch import nn

from auzoo_megraphau.weights import load_final_norm, load_strict, read_state_dict


def test_final_norm_loads_from_an_official_style_checkpoint(tmp_path):
    path = tmp_path / "swin.pth"
    state = {"norm.weight": torch.arange(4.0), "norm.bias": -torch.arange(4.0),
             "layers.0.blocks.0.norm1.weight": torch.ones(4), "head.weight": torch.ones(2, 4)}
    torch.save({"model": state}, path)
    norm = nn.LayerNorm(4)
    load_final_norm(norm, path)
    assert torch.equal(norm.weight.data, torch.arange(4.0))
    assert torch.equal(norm.bias.data, -torch.arange(4.0))


def test_a_file_without_the_norm_or_with_another_width_is_refused(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"fc.weight": torch.ones(2, 4), "norm.weight": torch.ones(4)}, path)
    with pytest.raises(ValueError, match=r"resnet\.pth.*missing \(1\): bias"):
        load_final_norm(nn.LayerNorm(4), path)
    torch.save({"norm.weight": torch.ones(8), "norm.bias": torch.ones(8)}, path)
    with pytest.raises(ValueError, match=r"wrong shape \(2\)"):
        load_final_norm(nn.LayerNorm(4), path)


def test_strict_load_lists_missing_and_unexpected_keys_and_changes_nothing():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = {"module.0.weight": torch.zeros(3, 2), "0.bias": torch.zeros(3)}  # a DataParallel prefix
    with pytest.raises(ValueError) as err:
        load_strict(model, state, "ckpt.pth")
    message = str(err.value)
    assert "ckpt.pth" in message and "missing (3)" in message and "module.0.weight" in message
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_pickled_objects_are_not_unpickled(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model": {"norm.weight": torch.ones(1)}, "cfg": nn.Linear(1, 1)}, path)
    with pytest.raises(ValueError, match="evil.pth"):
        read_state_dict(path)
    with pytest.raises(FileNotFoundError, match="nothing.pth"):
        read_state_dict(tmp_path / "nothing.pth")


class _TinyNHWCBackbone(nn.Module):
    """A stand-in for timm's Swin feature net: one (B, H, W, C) map, NHWC."""

    output_fmt = "NHWC"

    def __init__(self, pretrained_file=None, width=16):
        super().__init__()
        self.out_channels = [width]
        self.proj = nn.Conv2d(3, width, kernel_size=8, stride=8)

    def forward(self, x):
        return [self.proj(x).permute(0, 2, 3, 1)]


def test_the_model_reads_swins_final_norm_from_the_backbone_file(tmp_path):
    from auzoo_megraphau import MEGraphAU

    path = tmp_path / "swin_tiny.pth"
    torch.save({"model": {"norm.weight": torch.full((16,), 2.0), "norm.bias": torch.ones(16)}}, path)
    model = MEGraphAU(backbone=dict(type=_TinyNHWCBackbone, pretrained_file=str(path)), aus=(1, 2, 4),
                      channels=8, token_norm=True)
    assert model.nhwc and torch.equal(model.token_norm.weight.data, torch.full((16,), 2.0))
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 3)
    torch.save({"model": {"head.weight": torch.ones(2, 16)}}, path)
    with pytest.raises(ValueError, match="swin_tiny.pth"):
        MEGraphAU(backbone=dict(type=_TinyNHWCBackbone, pretrained_file=str(path)), aus=(1, 2, 4),
                  channels=8, token_norm=True)
