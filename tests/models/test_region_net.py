"""RegionAUNet and the built-in configs: building, AU order, region isolation,
parameter budget, ``auzoo show``."""
from __future__ import annotations

import pytest
import torch

import auzoo
from auzoo import cli
from auzoo.config import load_config
from auzoo.models.summary import count_flops, count_params

from .helpers import builtin_models, randomize_

DISFA_AUS = (1, 2, 4, 6, 9, 12, 25, 26)

# What each config is, from the paper's Table 2 (plus the ResNet-50 baseline).
EXPECTED = {
    #                  neck   regions                       CBAM per branch, switches
    "tranet":            (True, ("upper", "middle", "lower"), 3, dict(channel=True, spatial=True, residual=False)),
    "tranet_no_channel": (True, ("upper", "middle", "lower"), 3, dict(channel=False, spatial=True, residual=False)),
    "tranet_no_spatial": (True, ("upper", "middle", "lower"), 3, dict(channel=True, spatial=False, residual=False)),
    "tranet_residual":   (True, ("upper", "middle", "lower"), 3, dict(channel=True, spatial=True, residual=True)),
    "senet50_hm":        (True, ("upper", "middle", "lower"), 0, None),
    "senet50_cbam":      (True, ("face",), 3, dict(channel=True, spatial=True, residual=False)),
    "senet50_decoder":   (True, ("face",), 0, None),
    "senet50":           (False, ("face",), 0, None),
    "resnet50":          (False, ("face",), 0, None),
}


def small_backbone_config(name, **model):
    """A registered config with a tiny timm backbone in place of SENet-50."""
    cfg = load_config(name)
    cfg.model.backbone = dict(type="TimmBackbone", model_name="test_resnet", out_indices=(1, 2, 3, 4))
    cfg.model.update(model)
    return cfg


# Intensity configs: tested in test_intensity_heads.py.
INTENSITY = {"tranet_intensity", "resnet50_intensity"}


def test_every_builtin_config_is_described_here():
    assert set(builtin_models()) == set(EXPECTED) | INTENSITY


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_config_builds_and_trains(name, images):
    torch.manual_seed(0)
    model = auzoo.build_model(name)
    has_neck, regions, n_cbam, switches = EXPECTED[name]
    assert model.name == name and model.aus == DISFA_AUS and model.requires_landmarks is False
    assert load_config(name).model.aus is None  # the dataset's AUs; DISFA's without data
    assert (model.neck is not None) == has_neck
    if has_neck:  # the decoder's SE is the paper's Eq. 3, with its residual
        assert all(step.se.residual for step in model.neck.blocks)
    head = model.branches[0].head
    assert head.pool.output_size == ((4, 4) if has_neck else (1, 1))
    assert tuple(b.region for b in model.branches) == regions == tuple(model.splitter.names)
    for branch in model.branches:
        assert len(branch.attention) == n_cbam
        for block in branch.attention:
            assert type(block).__name__ == "CBAM"
            assert (block.channel is not None, block.spatial is not None, block.residual) == \
                (switches["channel"], switches["spatial"], switches["residual"])
    if len(regions) == 3:
        assert [b.aus for b in model.branches] == [(1, 2, 4), (6, 9), (12, 25, 26)]
        assert model.loss_groups == [(0, 1, 2), (3, 4), (5, 6, 7)]
    else:
        assert model.loss_groups == [tuple(range(8))]

    model.train()
    logits = model(images)
    assert logits.shape == (2, 8) and torch.isfinite(logits).all()
    logits.sum().backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert all(p.grad is not None for p in trainable)
    assert any(p.grad.abs().sum() > 0 for p in model.branches.parameters())


@pytest.fixture(scope="module")
def tranet_224():
    return auzoo.build_model("tranet").eval()


def test_tranet_size_is_the_papers(tranet_224):
    trainable, total = count_params(tranet_224)
    assert 69e6 <= total <= 85e6  # "around 77M parameters"
    frozen = total - trainable
    backbone = tranet_224.backbone
    expected_frozen = sum(p.numel() for m in (backbone.conv1, backbone.bn1, backbone.layer1)
                          for p in m.parameters())
    assert frozen == expected_frozen
    with torch.no_grad():
        decoded = tranet_224.features(torch.rand(1, 3, 224, 224))
    assert decoded.shape == (1, 512, 28, 28)


def test_show_prints_the_parameter_count(tranet_224, capsys):
    assert cli.main(["show", "tranet", "--img-size", "64"]) == 0
    out = capsys.readouterr().out
    trainable, total = count_params(tranet_224)
    assert f"{total / 1e6:.2f} M" in out and f"{trainable / 1e6:.2f} M" in out
    assert "ThreeRegionSplitter" in out and "GMACs" in out
    # Override through --cfg-options: a smaller head changes the count.
    assert cli.main(["show", "tranet", "--img-size", "64", "--cfg-options", "model.head.hidden=256"]) == 0
    assert f"{total / 1e6:.2f} M" not in capsys.readouterr().out


def test_count_flops_counts_multiply_adds_twice():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert count_flops(conv, 16) == 2 * (3 * 8 * 9) * 16 * 16
    assert count_params(conv) == (3 * 8 * 9, 3 * 8 * 9)


# ----------------------------------------------------------------- AU order

def test_logits_come_back_in_model_au_order():
    torch.manual_seed(0)
    cfg = small_backbone_config("tranet", aus=(26, 9, 1, 12, 4, 6, 25, 2))
    model = randomize_(auzoo.build_model(cfg)).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        logits = model(x)
        regions = model.splitter(model.features(x))
        per_branch = {au: branch(region)[0][:, i]
                      for branch, region in zip(model.branches, regions)
                      for i, au in enumerate(branch.aus)}
    for j, au in enumerate(model.aus):
        torch.testing.assert_close(logits[:, j], per_branch[au])
    # each branch lists its AUs in the model's order
    assert model.loss_groups == [(2, 4, 7), (1, 5), (0, 3, 6)]


def test_branches_match_regions_by_name():
    cfg = small_backbone_config("tranet")
    permuted = small_backbone_config("tranet", branches=[
        dict(region="lower", aus=(12, 25, 26)), dict(region="upper", aus=(1, 2, 4)),
        dict(region="middle", aus=(6, 9))])
    a, b = auzoo.build_model(cfg).eval(), auzoo.build_model(permuted).eval()
    b.load_state_dict(a.state_dict())
    assert [br.region for br in b.branches] == ["upper", "middle", "lower"]
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x))


@pytest.mark.parametrize("branches, message", [
    ([dict(aus=(1, 2, 4)), dict(aus=(6, 9)), dict(aus=(12, 25, 26, 1))], "predicted twice: \\[1\\]"),
    ([dict(aus=(1, 2, 4)), dict(aus=(6, 9)), dict(aus=(12, 25))], "predicted by no branch: \\[26\\]"),
    ([dict(aus=(1, 2, 4)), dict(aus=(6, 9, 17)), dict(aus=(12, 25, 26))], "not in the model's aus.*17"),
    ([dict(aus=(1, 2, 4, 6, 9)), dict(aus=(12, 25, 26))], "3 regions.*2 branches"),
    ([dict(region="upper", aus=(1, 2, 4)), dict(region="nose", aus=(6, 9)),
      dict(region="lower", aus=(12, 25, 26))], "must be distinct names among the splitter's regions"),
    ([dict(region="upper"), dict(region="upper")], "must be distinct names"),
])
def test_bad_branch_configs_are_refused(branches, message):
    with pytest.raises(ValueError, match=message):
        auzoo.build_model(small_backbone_config("tranet", branches=branches))


# ----------------------------------------------------------------- region isolation

@pytest.mark.parametrize("band_only", [True, False])
def test_branches_only_see_their_rows(band_only):
    torch.manual_seed(0)
    model = auzoo.build_model("tranet", band_only=band_only).train()
    captured = {}

    def keep(module, inputs, output):
        output.retain_grad()
        captured["map"] = output

    model.neck.register_forward_hook(keep)
    x = torch.rand(2, 3, 64, 64)
    torch.manual_seed(1)
    logits = model(x)
    height = captured["map"].shape[-2]
    centre = height // 2
    assert height == 8
    for group, (lo, hi) in ((model.loss_groups[0], (centre, height)),   # upper: nothing from y down
                            (model.loss_groups[2], (0, centre))):        # lower: nothing above y
        captured["map"].grad = None
        logits[:, list(group)].sum().backward(retain_graph=True)
        grad = captured["map"].grad
        assert grad[:, :, lo:hi].abs().max() == 0
        outside = grad[:, :, :lo] if lo else grad[:, :, hi:]
        assert outside.abs().max() > 0


def test_blocks_that_do_not_preserve_zeros_get_the_full_map():
    from torch import nn

    from auzoo.registry import ATTENTION

    class ShiftBlock(nn.Module):  # adds a bias: zero rows would not stay zero
        def __init__(self, channels):
            super().__init__()
            self.bias = nn.Parameter(torch.ones(channels, 1, 1))

        def forward(self, x):
            return x + self.bias

    ATTENTION.register_module(name="_TestShiftBlock", module=ShiftBlock)
    try:
        cfg = small_backbone_config("tranet", attention=[dict(type="CBAM"), dict(type="_TestShiftBlock")])
        model = auzoo.build_model(cfg).eval()
        assert model.band_only and not any(b.zero_preserving for b in model.branches)
        seen = []
        model.branches[0].attention[0].register_forward_hook(lambda m, i, o: seen.append(i[0].shape[-2]))
        with torch.no_grad():
            model(torch.rand(1, 3, 64, 64))
        assert seen == [8]  # the whole masked map, not the 4-row band
    finally:
        ATTENTION.unregister("_TestShiftBlock")


def test_channels_last_gives_the_same_logits():
    model = randomize_(auzoo.build_model(small_backbone_config("tranet"))).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        got = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_wrong_images_are_refused():
    model = auzoo.build_model(small_backbone_config("senet50")).eval()
    for bad in (torch.rand(3, 64, 64), torch.rand(1, 64, 64, 3), torch.randint(0, 255, (1, 3, 64, 64))):
        with pytest.raises(ValueError, match="RGB float images"):
            model(bad)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_paper_configs_refuse_random_frozen_stages_but_the_demo_trains_every_stage(name):
    from auzoo.weights import RandomFrozenInitError, check_frozen_init

    cfg = load_config(name)
    assert cfg.allow_random_init is False
    assert cfg.demo["model.backbone.frozen_stages"] == 0
    if name in ("senet50_hm", "senet50_decoder"):  # no gates before the FC layers: a gentler demo lr
        assert cfg.demo["optim_wrapper.optimizer.lr"] == 3e-4
    cfg.model.backbone.update(type="TimmBackbone", model_name="test_resnet", out_indices=(1, 2, 3, 4))
    cfg.model.backbone.pop("weights", None)
    cfg.model.backbone.frozen_stages = 2
    with pytest.raises(RandomFrozenInitError):
        check_frozen_init(auzoo.build_model(cfg), allow_random_init=cfg.allow_random_init)
    demo = auzoo.build_model(cfg, **{k[len("model."):]: v for k, v in cfg.demo.items()
                                      if k.startswith("model.")})
    check_frozen_init(demo, allow_random_init=False)
