"""Band-only branches compute exactly what full-map branches compute.

Random inputs (with negative values, so the max over a band can lose to the
zeros outside it), random weights and random BatchNorm statistics; eval mode
and train mode, where the spatial-gate BatchNorm must take its statistics over
the full map and update its running statistics identically.
"""
from __future__ import annotations

import copy

import pytest
import torch

import auzoo
from auzoo.models import bands
from auzoo.models.attention import CBAM, SE
from auzoo.models.bands import Band
from auzoo.models.splitters import ThreeRegionSplitter

from .helpers import builtin_models, randomize_

TOL = dict(rtol=0, atol=1e-5)


def masked(x, band):
    out = torch.zeros_like(x)
    out[:, :, band.start:band.stop] = x[:, :, band.start:band.stop]
    return out


def blocks():
    return {
        "cbam": CBAM(16, reduction=4),
        "cbam_residual": CBAM(16, reduction=4, residual=True),
        "cbam_no_channel": CBAM(16, channel_attention=False),
        "cbam_no_spatial": CBAM(16, reduction=4, spatial_attention=False),
        "se": SE(16, reduction=4),
    }


BANDS = [Band(0, 4, 28), Band(7, 21, 28), Band(14, 28, 28), Band(12, 13, 28),  # a one-row band
         Band(2, 5, 7), Band(0, 3, 7), Band(3, 7, 7), Band(0, 7, 7)]


@pytest.mark.parametrize("band", BANDS, ids=str)
@pytest.mark.parametrize("name", list(blocks()))
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_block_on_band_equals_block_on_masked_map(name, band, training):
    torch.manual_seed(band.start * 31 + band.height)
    full = randomize_(blocks()[name]).train(training)
    on_band = copy.deepcopy(full)
    x = torch.randn(3, 16, band.height, 6)
    x_full = masked(x, band).requires_grad_()
    x_band = x[:, :, band.start:band.stop].clone().requires_grad_()

    expected = full(x_full)
    got = on_band(x_band, band=band)
    assert got.shape[-2] == band.rows
    outside = torch.cat([expected[:, :, :band.start], expected[:, :, band.stop:]], dim=2)
    assert not outside.any()  # zero rows stay zero
    torch.testing.assert_close(band.pad_to_full(got), expected, **TOL)

    weights = torch.randn_like(expected)
    (expected * weights).sum().backward()
    (band.pad_to_full(got) * weights).sum().backward()
    torch.testing.assert_close(x_band.grad, x_full.grad[:, :, band.start:band.stop], **TOL)
    for (key, a), b in zip(full.named_parameters(), on_band.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-5)
    for (key, a), b in zip(full.state_dict().items(), on_band.state_dict().values()):
        torch.testing.assert_close(b, a, **TOL, msg=key)  # running statistics too


def test_spatial_batch_norm_running_stats_really_move():
    cbam = CBAM(8).train()
    band = Band(7, 21, 28)
    before = cbam.spatial.bn.running_var.clone()
    cbam(torch.randn(2, 8, 14, 5), band=band)
    assert not torch.equal(before, cbam.spatial.bn.running_var)
    assert int(cbam.spatial.bn.num_batches_tracked) == 1


def test_batch_norm_with_cumulative_momentum():
    bn = torch.nn.BatchNorm2d(3, momentum=None).train()
    reference = copy.deepcopy(bn)
    y = torch.randn(2, 3, 4, 5)
    full = torch.cat([y, torch.zeros(2, 3, 6, 5)], dim=2)
    for _ in range(2):
        got = bands.batch_norm(y, bn, full_count=full.numel() // 3)
        expected = reference(full)[:, :, :4]
    torch.testing.assert_close(got, expected, **TOL)
    torch.testing.assert_close(bn.running_var, reference.running_var, **TOL)


# ----------------------------------------------------------------- whole models

HARD_MASK_MODELS = [name for name in builtin_models()
                    if "ThreeRegionSplitter" in auzoo.load_config(name).model.splitter.type]


def test_hard_mask_models_are_the_expected_ones():
    assert sorted(HARD_MASK_MODELS) == ["senet50_hm", "tranet", "tranet_intensity", "tranet_no_channel",
                                        "tranet_no_spatial", "tranet_residual"]


def small_backbone(name):
    """Config ``name`` with a tiny timm backbone: the branches are what is tested."""
    cfg = auzoo.load_config(name)
    cfg.model.backbone = dict(type="TimmBackbone", model_name="test_resnet", out_indices=(1, 2, 3, 4))
    return cfg


# 128 px: a 16-row decoded map; the middle band [4, 12) widened by the 7x7
# conv's reach is [1, 15), strictly inside the map. The real SENet-50 runs at
# 64 px (an 8-row map) to keep the test quick.
@pytest.mark.parametrize("name, backbone, size", [(name, "test_resnet", 128) for name in HARD_MASK_MODELS]
                         + [("tranet", "senet50", 64)])
def test_band_only_model_equals_full_map_model(name, backbone, size):
    torch.manual_seed(0)
    inputs = torch.rand(2, 3, size, size)
    cfg = small_backbone(name) if backbone == "test_resnet" else name
    band_model = randomize_(auzoo.build_model(cfg, band_only=True), seed=1)
    full_model = copy.deepcopy(band_model)
    full_model.band_only = False

    rows = []
    for branch in band_model.branches:
        for block in branch.attention[:1]:
            block.register_forward_hook(lambda m, i, o: rows.append(i[0].shape[-2]))
    splits = []
    band_model.splitter.register_forward_hook(lambda *args: splits.append(1))

    # eval
    band_model.eval(), full_model.eval()
    with torch.no_grad():
        torch.testing.assert_close(band_model(inputs), full_model(inputs), **TOL)
    if rows:  # the band path was taken: each branch saw only its rows
        assert rows == [hi - lo for lo, hi in ThreeRegionSplitter().bands(size // 8)]
    assert not splits

    # train: same dropout masks, then compare logits, gradients, running statistics
    band_model.train(), full_model.train()
    torch.manual_seed(2)
    got = band_model(inputs)
    torch.manual_seed(2)
    expected = full_model(inputs)
    torch.testing.assert_close(got, expected, **TOL)
    weights = torch.randn_like(expected)
    (got * weights).sum().backward()
    (expected * weights).sum().backward()
    full_params = dict(full_model.named_parameters())
    for key, param in band_model.named_parameters():
        if param.grad is not None or full_params[key].grad is not None:
            torch.testing.assert_close(param.grad, full_params[key].grad, rtol=1e-4, atol=1e-5, msg=key)
    full_state = full_model.state_dict()
    for key, value in band_model.state_dict().items():
        torch.testing.assert_close(value, full_state[key], **TOL, msg=key)


def _band_bn_worker(rank, world, path, results):
    import torch.distributed as dist
    from torch import nn

    from auzoo.models.bands import batch_norm
    dist.init_process_group("gloo", init_method=f"file://{path}", rank=rank, world_size=world)
    torch.manual_seed(0)
    full = torch.zeros(4, 3, 6, 5)
    full[:, :, 1:4] = torch.randn(4, 3, 3, 5)
    mine = full[rank * 2:(rank + 1) * 2]
    bn = nn.SyncBatchNorm(3).train()
    out = batch_norm(mine[:, :, 1:4].clone(), bn, full_count=2 * 6 * 5)
    results[rank] = out.detach()
    dist.destroy_process_group()


def test_band_batch_norm_under_syncbn_uses_the_whole_distributed_batch(tmp_path):
    """Two gloo processes each hold half the batch: with SyncBatchNorm the band
    statistics are those of the full batch, as one process computes them."""
    import torch.multiprocessing as mp
    from torch import nn


    results = mp.Manager().dict()
    mp.spawn(_band_bn_worker, args=(2, str(tmp_path / "rdzv"), results), nprocs=2, join=True)
    torch.manual_seed(0)
    full = torch.zeros(4, 3, 6, 5)
    full[:, :, 1:4] = torch.randn(4, 3, 3, 5)
    expected = nn.BatchNorm2d(3).train()(full)[:, :, 1:4]
    got = torch.cat([results[0], results[1]])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_each_branch_says_which_path_it_takes(capsys):
    """A block without ``zero_preserving`` sends its branch to the masked full
    map, and ``auzoo show`` says so, naming the block."""
    from torch import nn

    from auzoo.models.summary import show_model
    from auzoo.registry import ATTENTION

    @ATTENTION.register_module(force=True)
    class PlainGate(nn.Module):  # no zero_preserving: it may add a bias
        def __init__(self, channels):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))

        def forward(self, x):
            return x * self.scale

    try:
        cfg = dict(model=dict(
            type="RegionAUNet", aus=(1, 2, 4, 6, 9, 12, 25, 26), splitter=dict(type="ThreeRegionSplitter"),
            backbone=dict(type="TimmBackbone", model_name="test_resnet"),
            head=dict(type="TwoFCHead", pool_size=1, hidden=8),
            branches=[dict(region="upper", attention=[dict(type="PlainGate")]),
                      dict(region="middle", attention=[dict(type="CBAM")]), dict(region="lower")]),
            img_size=64)
        model = auzoo.build_model(cfg)
        paths = [model.branch_path(b) for b in model.branches]
        assert paths == ["masked full map (PlainGate not zero_preserving)", "band of rows",
                         "band of rows"]
        assert model.band_only
        model.band_only = False
        assert model.branch_path(model.branches[1]) == "masked full map (band_only=False)"
        show_model(cfg)
        shown = " ".join(capsys.readouterr().out.split())
        assert "upper: AU 1, 2, 4, on the masked full map (PlainGate not zero_preserving)" in shown
        assert "middle: AU 6, 9, on the band of rows" in shown
    finally:
        ATTENTION.unregister("PlainGate")
