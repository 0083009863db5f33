import pytest
import torch

import auzoo
from auzoo import registry
from auzoo.report.published import published_for
from auzoo_jaa_lite.au_centres import AU_CENTRE_RULES, au_attention_maps, au_centres
from auzoo_jaa_lite.jaa_lite import JAALite

DISFA_AUS = (1, 2, 4, 6, 9, 12, 25, 26)
TINY_BACKBONE = dict(type="TimmBackbone", model_name="test_resnet")


def _landmarks(n=2, size=112, seed=0) -> torch.Tensor:
    """Integer landmarks with a ruler of 12 px, so that every AU centre is a pixel."""
    g = torch.Generator().manual_seed(seed)
    pts = torch.randint(20, size - 20, (n, 66, 2), generator=g).float()
    pts[:, 39, 0], pts[:, 42, 0] = 50.0, 62.0
    return pts


def _reference_map(centres, size, spatial_ratio=0.14, fill_coeff=0.56):
    """JAA-Net's map generation written out pixel by pixel, for one AU of one sample."""
    side = spatial_ratio * size
    out = torch.zeros(size, size)
    for cx, cy in centres.tolist():
        for y in range(size):
            for x in range(size):
                if abs(x - cx) <= side / 2 and abs(y - cy) <= side / 2:
                    v = max(1 - (abs(x - cx) + abs(y - cy)) * fill_coeff / side, 0.0)
                    out[y, x] = max(out[y, x], v)
    return out


def test_au_centres_follow_jaa_nets_rules():
    lm = _landmarks(n=1)[0]
    ruler = abs(lm[39, 0] - lm[42, 0])
    centres = au_centres(lm[None], DISFA_AUS)[0]  # (A, 2, 2)
    expected = {
        1: [lm[21] - torch.tensor([0, ruler / 2]), lm[22] - torch.tensor([0, ruler / 2])],
        2: [lm[18] - torch.tensor([0, ruler / 3]), lm[25] - torch.tensor([0, ruler / 3])],
        4: [lm[19] + torch.tensor([0, ruler / 3]), lm[24] + torch.tensor([0, ruler / 3])],
        6: [lm[41] + torch.tensor([0, ruler]), lm[46] + torch.tensor([0, ruler])],
        9: [lm[32] - torch.tensor([0, ruler / 2]), lm[34] - torch.tensor([0, ruler / 2])],
        12: [lm[48], lm[54]],
        25: [lm[51], lm[57]],
        26: [lm[56] + torch.tensor([0, ruler / 2]), lm[58] + torch.tensor([0, ruler / 2])],
    }
    for a, au in enumerate(DISFA_AUS):
        assert torch.allclose(centres[a], torch.stack(expected[au])), f"AU{au}"
    with pytest.raises(ValueError, match="no AU centre rule for AU \\[5\\]"):
        au_centres(lm[None], (1, 5))
    with pytest.raises(ValueError, match="66, 2"):
        au_centres(lm[None, :49], (1,))


def test_attention_peaks_at_the_au_centres():
    lm = _landmarks(n=2)
    centres = au_centres(lm, DISFA_AUS)
    att = au_attention_maps(centres, (112, 112), (112, 112))
    assert att.shape == (2, 8, 112, 112)
    for n in range(2):
        for a, au in enumerate(DISFA_AUS):
            for cx, cy in centres[n, a].round().long().tolist():
                assert att[n, a, cy, cx] == pytest.approx(1.0), f"AU{au} at ({cx}, {cy})"
            # the whole map is JAA-Net's, computed independently
            ref = _reference_map(centres[n, a], 112)
            assert torch.allclose(att[n, a], ref, atol=1e-5), f"AU{au}"


def test_coarse_attention_peaks_in_the_cell_holding_the_centre():
    lm = _landmarks(n=1)
    centres = au_centres(lm, (12,))  # mouth corners
    att = au_attention_maps(centres, (112, 112), (14, 14), supersample=4)[0, 0]
    cells = {(int(cy) // 8, int(cx) // 8) for cx, cy in centres[0, 0].tolist()}
    peak = divmod(int(att.argmax()), 14)
    assert peak in cells
    # moving the landmarks moves the attention with them
    moved = au_attention_maps(centres + torch.tensor([16.0, 8.0]), (112, 112), (14, 14), supersample=4)[0, 0]
    assert divmod(int(moved.argmax()), 14) in {(r + 1, c + 2) for r, c in cells}


def test_missing_landmarks_pass_features_unweighted():
    lm = _landmarks(n=2)
    lm[1, 48] = float("nan")
    att = au_attention_maps(au_centres(lm, DISFA_AUS), (112, 112), (14, 14), supersample=2)
    assert torch.isfinite(att).all()
    assert torch.equal(att[1], torch.ones_like(att[1]))
    assert att[0].min() == 0  # the first sample is still attended


def test_rule_table_covers_disfa_and_bp4d():
    assert set(DISFA_AUS) | {7, 10, 14, 15, 17, 23, 24} <= set(AU_CENTRE_RULES)
    for au, rule in AU_CENTRE_RULES.items():
        assert all(0 <= i < 66 for i in rule.landmarks), au


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return JAALite(backbone=TINY_BACKBONE, aus=DISFA_AUS, feature_level=2, width=8)


def test_forward_backward(tiny_model):
    model = tiny_model.train()
    assert model.requires_landmarks is True
    assert model.loss_groups == [tuple(range(8))]
    images = torch.rand(2, 3, 64, 64)
    logits = model(images, _landmarks(n=2, seed=1) * (64 / 112))
    assert logits.shape == (2, 8) and torch.isfinite(logits).all()
    model.zero_grad()
    logits.sum().backward()
    heads = [model.reduce, model.au_heads, model.classifier]
    no_grad = [name for head in heads for name, p in head.named_parameters()
               if p.grad is None or p.grad.abs().sum() == 0]
    assert not no_grad
    # ... and through the attention-weighted features into the backbone
    stem = next(model.backbone.body.parameters())
    assert stem.grad is not None and stem.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="needs the faces' landmarks"):
        model(images)


def test_output_follows_the_landmarks_of_each_au(tiny_model):
    model = tiny_model.eval()
    images = torch.rand(2, 3, 64, 64)
    lm = _landmarks(n=2, seed=2) * (64 / 112)
    moved = lm.clone()
    moved[:, 48:66] += torch.tensor([3.0, 5.0])  # the mouth only
    with torch.no_grad():
        before, after = model(images, lm), model(images, moved)
    changed = dict(zip(DISFA_AUS, ((before - after).abs() > 1e-6).any(dim=0).tolist()))
    # brow, eye and nose AUs are centred on points that did not move; mouth AUs are not
    assert changed == {1: False, 2: False, 4: False, 6: False, 9: False,
                       12: True, 25: True, 26: True}


def test_jaa_lite_config_builds_through_the_registry(jaa_lite_plugin_loaded):
    assert {"models:JAALite", "configs:jaa_lite"} <= set(jaa_lite_plugin_loaded.registered)
    assert registry.provider_of("configs", "jaa_lite").name.startswith(
        "plugin jaa_lite (auzoo-jaa-lite ")
    model = auzoo.build_model("jaa_lite", **{"backbone.model_name": "test_resnet", "width": 8})
    assert isinstance(model, JAALite) and model.name == "jaa_lite"
    # a light model after JAA-Net has no published row, and JAA-Net's is not set beside it
    assert "published" not in model.cfg
    assert published_for("jaa_lite", "disfa", model.cfg) is None
    assert published_for("jaa_lite", "bp4d", model.cfg) is None
    assert model.neck is None and model.backbone.out_strides == [16]
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 64, 64), _landmarks(n=1) * (64 / 112))
    assert out.shape == (1, 8)


def test_user_config_puts_a_builtin_neck_under_the_plugin_model(tmp_path):
    user = tmp_path / "jaa_lite_decoder.py"
    user.write_text("_base_ = ['auzoo::jaa_lite']\n"
                    "model = dict(backbone=dict(model_name='test_resnet', out_indices=None),\n"
                    "             neck=dict(type='TRADecoder', steps=2), width=8)\n")
    model = auzoo.build_model(user)
    assert type(model.neck).__name__ == "TRADecoder"
    model.eval()
    with torch.no_grad():
        feats = model.features(torch.rand(1, 3, 64, 64))
        out = model(torch.rand(1, 3, 64, 64), _landmarks(n=1) * (64 / 112))
    assert feats.shape[-1] == 64 // 8  # the decoder climbed back to stride 8
    assert out.shape == (1, 8)
