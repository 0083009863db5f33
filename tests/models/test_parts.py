"""Splitters, CBAM / SE, the two-FC head and the TRA-Net decoder, each against
an independent computation of what it should be."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from auzoo.models.attention import CBAM, SE
from auzoo.models.heads import TwoFCHead
from auzoo.models.necks import TRADecoder
from auzoo.models.splitters import ThreeRegionSplitter, WholeFaceSplitter

from .helpers import randomize_

torch.manual_seed(0)


# ----------------------------------------------------------------- splitters

@pytest.mark.parametrize("height, expected", [
    (28, [(0, 14), (7, 21), (14, 28)]),
    (14, [(0, 7), (4, 11), (7, 14)]),
    (7, [(0, 3), (2, 5), (3, 7)]),
    (8, [(0, 4), (2, 6), (4, 8)]),
    (2, [(0, 1), (1, 2), (1, 2)]),
])
def test_three_region_rows(height, expected):
    assert ThreeRegionSplitter().bands(height) == expected


@pytest.mark.parametrize("height", range(2, 40))
def test_three_region_rows_follow_the_paper(height):
    (u0, u1), (m0, m1), (l0, l1) = ThreeRegionSplitter().bands(height)
    y = height // 2
    assert (u0, u1, l0, l1) == (0, y, y, height)  # upper/lower meet at the face centre
    assert m1 - m0 == height // 2                     # middle is H/2 tall ...
    assert abs((m0 + m1) / 2 - y) <= 0.5              # ... and centred on it


def test_masks_keep_exactly_their_rows():
    x = torch.randn(2, 3, 14, 5) + 10  # no zeros of its own
    splitter = ThreeRegionSplitter()
    for out, (start, stop) in zip(splitter(x), splitter.bands(14)):
        nonzero_rows = out.ne(0).any(dim=(0, 1, 3)).nonzero().flatten().tolist()
        assert nonzero_rows == list(range(start, stop))
        assert torch.equal(out[:, :, start:stop], x[:, :, start:stop])
    assert splitter.names == ("upper", "middle", "lower")
    whole = WholeFaceSplitter()
    assert whole.bands(9) == [(0, 9)] and torch.equal(whole(x)[0], x)


# ----------------------------------------------------------------- CBAM / SE

def official_channel_gate(cbam, x):
    """Woo et al.'s formula written out: sigmoid(MLP(avgpool) + MLP(maxpool))."""
    w1, b1 = cbam.channel.mlp[0].weight, cbam.channel.mlp[0].bias
    w2, b2 = cbam.channel.mlp[2].weight, cbam.channel.mlp[2].bias

    def mlp(v):
        return F.linear(F.relu(F.linear(v, w1, b1)), w2, b2)

    avg = x.flatten(2).mean(-1)
    mx = x.flatten(2).max(-1).values
    return torch.sigmoid(mlp(avg) + mlp(mx))[:, :, None, None]


def official_spatial_gate(cbam, x):
    squeezed = torch.cat([x.max(1, keepdim=True).values, x.mean(1, keepdim=True)], 1)
    bn = cbam.spatial.bn
    y = F.conv2d(squeezed, cbam.spatial.conv.weight, padding=3)
    y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    return torch.sigmoid(y)


@pytest.fixture
def cbam():
    return randomize_(CBAM(32)).eval()


def test_cbam_gates_match_the_official_formula(cbam):
    x = torch.randn(2, 32, 9, 7)
    cg = cbam.channel_gate(x)
    assert cg.shape == (2, 32, 1, 1)
    torch.testing.assert_close(cg, official_channel_gate(cbam, x))
    sg = cbam.spatial_gate(x * cg)
    assert sg.shape == (2, 1, 9, 7)
    torch.testing.assert_close(sg, official_spatial_gate(cbam, x * cg))
    torch.testing.assert_close(cbam(x), x * cg * sg)
    assert not torch.allclose(cbam(x), x * cg)  # the spatial factor is really there


def test_cbam_switches_remove_one_factor_each(cbam):
    x = torch.randn(2, 32, 9, 7)
    no_channel = CBAM(32, channel_attention=False).eval()
    no_channel.spatial.load_state_dict(cbam.spatial.state_dict())
    assert no_channel.channel is None and no_channel.channel_gate(x) is None
    torch.testing.assert_close(no_channel(x), x * official_spatial_gate(cbam, x))

    no_spatial = CBAM(32, spatial_attention=False).eval()
    no_spatial.channel.load_state_dict(cbam.channel.state_dict())
    assert no_spatial.spatial is None and no_spatial.spatial_gate(x) is None
    torch.testing.assert_close(no_spatial(x), x * official_channel_gate(cbam, x))
    with pytest.raises(ValueError):
        CBAM(32, channel_attention=False, spatial_attention=False)


def test_cbam_residual_adds_the_input_back(cbam):
    x = torch.randn(2, 32, 9, 7)
    residual = CBAM(32, residual=True).eval()
    residual.load_state_dict(cbam.state_dict())
    torch.testing.assert_close(residual(x), x + cbam(x))


def test_cbam_structure_follows_the_official_code(cbam):
    mlp = cbam.channel.mlp
    assert mlp[0].bias is not None and mlp[2].bias is not None
    assert (mlp[0].in_features, mlp[0].out_features) == (32, 2)  # reduction 16
    assert cbam.spatial.conv.bias is None and cbam.spatial.conv.kernel_size == (7, 7)
    assert cbam.spatial.bn.momentum == 0.01


def test_se_is_squeeze_excitation():
    se = SE(64).eval()
    x = torch.randn(2, 64, 5, 6)
    z = x.mean((2, 3))
    s = torch.sigmoid(F.linear(F.relu(F.linear(z, se.fc1.weight[:, :, 0, 0], se.fc1.bias)),
                               se.fc2.weight[:, :, 0, 0], se.fc2.bias))
    torch.testing.assert_close(se(x), x * s[:, :, None, None])
    assert se.fc1.out_channels == 4


# ----------------------------------------------------------------- head

def test_two_fc_head_keeps_the_pooled_grid():
    head = TwoFCHead(8, 3, pool_size=4, hidden=16, dropout=0.0).eval()
    assert head.fc1.in_features == 8 * 16
    x = torch.randn(2, 8, 12, 12)
    pooled = F.avg_pool2d(x, 3).flatten(1)
    expected = head.fc2(F.relu(head.fc1(pooled)))
    torch.testing.assert_close(head(x), expected)
    # The same activation in another place of the region gives another answer.
    a, b = torch.zeros(1, 8, 12, 12), torch.zeros(1, 8, 12, 12)
    a[..., 0, 0], b[..., 11, 11] = 1, 1
    assert not torch.allclose(head(a), head(b))
    global_head = TwoFCHead(8, 3, pool_size=1, hidden=16)
    assert global_head.fc1.in_features == 8


def test_two_fc_head_channels_last():
    head = TwoFCHead(8, 3, pool_size=4, hidden=16).eval()
    x = torch.randn(2, 8, 12, 12)
    torch.testing.assert_close(head(x.to(memory_format=torch.channels_last)), head(x))


# ----------------------------------------------------------------- decoder

SENET_CHANNELS = [256, 512, 1024, 2048]


def feature_maps(channels, size, batch=1):
    """Backbone-like maps at strides 4, 8, 16, 32 of a ``size`` image."""
    return [torch.rand(batch, c, -(-size // s), -(-size // s)) for c, s in zip(channels, (4, 8, 16, 32))]


def test_decoder_climbs_back_through_the_encoder_shapes():
    decoder = TRADecoder(SENET_CHANNELS).eval()
    seen = []
    for block in decoder.blocks:
        block.conv.register_forward_hook(lambda m, i, o: seen.append((tuple(i[0].shape[1:]), tuple(o.shape[1:]))))
    out = decoder(feature_maps(SENET_CHANNELS, 224))
    assert out.shape == (1, 512, 28, 28) and decoder.out_channels == 512
    # One conv per step, run at the coarse resolution.
    assert seen == [((2048, 7, 7), (1024, 7, 7)), ((1024, 14, 14), (512, 14, 14))]
    convs = [m for m in decoder.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) == 2
    assert [type(b.se).__name__ for b in decoder.blocks] == ["SE", "SE"]


def test_decoder_uses_its_skips():
    decoder = randomize_(TRADecoder(SENET_CHANNELS)).eval()
    feats = feature_maps(SENET_CHANNELS, 96)
    changed = [f.clone() for f in feats]
    changed[1] += 1  # the stride-8 skip
    assert not torch.allclose(decoder(feats), decoder(changed))
    changed = [f.clone() for f in feats]
    changed[0] += 1  # stride 4: not part of the decoder
    torch.testing.assert_close(decoder(feats), decoder(changed))


def test_decoder_odd_sizes_and_other_backbones():
    channels = [24, 40, 112, 320]
    decoder = TRADecoder(channels, steps=2)
    feats = feature_maps(channels, 100)  # 25, 13, 7, 4: upsampling lands on the skip's size
    assert decoder(feats).shape == (1, 40, 13, 13)
    wider = TRADecoder(channels, steps=1, out_channels=64)
    assert wider(feats).shape == (1, 64, 7, 7) and wider.out_channels == 64
    with pytest.raises(ValueError, match="feature levels"):
        TRADecoder([512, 2048], steps=2)


def test_decoder_se_offers_both_forms():
    x = torch.randn(2, 16, 5, 6)
    plain, residual = SE(16, 4).eval(), SE(16, 4, residual=True).eval()
    residual.load_state_dict(plain.state_dict())
    gate = plain.gate(x)
    torch.testing.assert_close(plain(x), gate * x)              # O = S ⊗ U
    torch.testing.assert_close(residual(x), gate * x + x)       # O = (S ⊗ U) ⊕ U, the paper's Eq. 3
    decoder = TRADecoder(SENET_CHANNELS, se_residual=True)
    assert all(step.se.residual for step in decoder.blocks)
    assert not any(step.se.residual for step in TRADecoder(SENET_CHANNELS).blocks)
    # the same weights, the two forms: different maps
    other = TRADecoder(SENET_CHANNELS).eval()
    other.load_state_dict(decoder.state_dict())
    feats = feature_maps(SENET_CHANNELS, 64)
    assert not torch.allclose(decoder.eval()(feats), other(feats))


def test_open_gates_start_near_the_given_logit():
    torch.manual_seed(0)
    x = torch.rand(4, 32, 8, 8)
    shut, opened = CBAM(32, reduction=4).train(), CBAM(32, reduction=4, gate_bias_init=3.0).train()
    assert opened.channel.mlp[-1].bias.eq(1.5).all() and opened.spatial.bn.bias.eq(3.0).all()
    assert 0.3 < shut.channel_gate(x).mean() < 0.7
    assert opened.channel_gate(x).mean() > 0.9 and opened.spatial_gate(x).mean() > 0.9
    # three blocks without residual: gates near 0.5 shrink the map about 64-fold, open ones keep most of it
    def through_three(make):
        blocks = [make() for _ in range(3)]
        y = x
        for block in blocks:
            y = block(y)
        return float(y.detach().abs().mean() / x.abs().mean())
    assert through_three(lambda: CBAM(32, reduction=4)) < 0.05
    assert through_three(lambda: CBAM(32, reduction=4, gate_bias_init=3.0)) > 0.6
