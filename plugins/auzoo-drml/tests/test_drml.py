import pytest
import torch
import torch.nn.functional as F

import auzoo
from auzoo import registry
from auzoo_drml.drml import DRML, MIN_INPUT_SIZE, RegionLayer


def _region_layer(grid=(8, 8), channels=4, seed=0) -> RegionLayer:
    torch.manual_seed(seed)
    layer = RegionLayer(channels, grid)
    # Random affine BatchNorm parameters and running statistics, so that
    # patches differ in those too.
    torch.nn.init.uniform_(layer.norm.weight, 0.5, 1.5)
    torch.nn.init.uniform_(layer.norm.bias, -0.5, 0.5)
    layer.norm.running_mean.uniform_(-0.2, 0.2)
    layer.norm.running_var.uniform_(0.5, 2.0)
    return layer


def _patch_slices(size, parts):
    step = -(-size // parts)
    return [slice(i * step, min((i + 1) * step, size)) for i in range(parts)]


@pytest.mark.parametrize("training", [True, False])
def test_region_layer_is_the_papers_per_patch_operation(training):
    """Each patch alone through its own BN -> ReLU -> 3x3 conv (zero-padded on its own), plus itself."""
    layer = _region_layer().train(training)
    x = torch.randn(3, 4, 40, 24)
    expected = x.clone()
    rows, cols = _patch_slices(40, 8), _patch_slices(24, 8)
    for k, (r, c) in enumerate((r, c) for r in rows for c in cols):
        own = layer.patch_parameters(k)
        span = slice(k * 4, (k + 1) * 4)
        patch = x[:, :, r, c]
        h = F.batch_norm(patch, layer.norm.running_mean[span].clone(),
                         layer.norm.running_var[span].clone(), own["norm.weight"], own["norm.bias"],
                         training=training, eps=layer.norm.eps)
        expected[:, :, r, c] += F.conv2d(F.relu(h), own["conv.weight"], own["conv.bias"], padding=1)
    with torch.no_grad():
        assert torch.allclose(layer(x), expected, atol=1e-5)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("size", [32, 29])  # even patches, and a map padded to the grid
def test_region_layer_patch_changes_only_its_own_output(training, size):
    layer = _region_layer().train(training)
    x = torch.randn(3, 4, size, size)
    rows, cols = _patch_slices(size, 8), _patch_slices(size, 8)
    r, c = rows[2], cols[5]  # patch (2, 5)
    x2 = x.clone()
    x2[:, :, r, c] = torch.randn_like(x2[:, :, r, c]) * 3
    with torch.no_grad():
        before, after = layer.patch_responses(x), layer.patch_responses(x2)
    assert before.shape == x.shape
    changed = (before - after).abs().amax(dim=(0, 1)) > 1e-6
    expected = torch.zeros(size, size, dtype=torch.bool)
    expected[r, c] = True
    assert torch.equal(changed, expected)  # a shared conv would also touch the neighbours' borders
    # ... and the residual merge adds the patch itself back
    with torch.no_grad():
        assert torch.allclose(layer(x), x + before)


def test_region_layer_patches_do_not_share_weights():
    layer = _region_layer()
    # Every patch sees the same content: only unshared weights make the answers differ.
    tile = torch.randn(2, 4, 5, 5)
    x = tile.repeat(1, 1, 8, 8)
    with torch.no_grad():
        out = layer.patch_responses(x).unflatten(2, (8, 5)).unflatten(4, (8, 5))
    patches = out.permute(2, 4, 0, 1, 3, 5).reshape(64, -1)  # (patch, everything else)
    distances = torch.cdist(patches, patches)
    off_diagonal = distances[~torch.eye(64, dtype=torch.bool)]
    assert off_diagonal.min() > 1e-3

    # ... and each patch owns its parameters: a loss on one patch's output
    # reaches that patch's slice of every parameter, and no other.
    layer.zero_grad()
    layer.patch_responses(x)[:, :, 10:15, 25:30].sum().backward()  # patch (2, 5)
    for name, param in layer.named_parameters():
        per_patch = param.grad.reshape(64, -1).abs().sum(dim=1)
        assert per_patch.nonzero().flatten().tolist() == [2 * 8 + 5], name
    assert sum(p.numel() for p in layer.parameters()) == 64 * (2 * 4 + 4 * 4 * 9 + 4)


def test_region_layer_rejects_a_map_smaller_than_its_grid():
    with pytest.raises(ValueError, match="7×9 map"):
        RegionLayer(2)(torch.zeros(1, 2, 7, 9))


def test_drml_forward_backward_small():
    torch.manual_seed(0)
    model = DRML(aus=(1, 2, 4, 6, 9, 12, 25, 26), pooled_size=4)
    assert model.requires_landmarks is False
    assert model.loss_groups == [tuple(range(8))]
    images = torch.rand(2, 3, 64, 64)
    logits = model(images)
    assert logits.shape == (2, 8) and torch.isfinite(logits).all()
    logits.sum().backward()
    # the gradient flows back through the region layer to the first conv
    assert model.conv1.weight.grad.abs().sum() > 0
    assert (model.region.conv.weight.grad.reshape(64, -1).abs().sum(dim=1) > 0).all()
    with pytest.raises(ValueError, match=f"at least {MIN_INPUT_SIZE}"):
        model(torch.rand(1, 3, MIN_INPUT_SIZE - 1, MIN_INPUT_SIZE - 1))


def test_drml_config_builds_through_the_registry(drml_plugin_loaded):
    assert "models:DRML" in drml_plugin_loaded.registered
    assert "configs:drml" in drml_plugin_loaded.registered
    assert "drml" in auzoo.list_models()
    assert registry.provider_of("configs", "drml").name.startswith("plugin drml (auzoo-drml ")
    assert registry.provider_of("models", "DRML").name.startswith("plugin drml (auzoo-drml ")

    model = auzoo.build_model("drml", pooled_size=4)
    assert isinstance(model, DRML) and model.name == "drml"
    assert model.aus == (1, 2, 4, 6, 9, 12, 25, 26)
    cfg = model.cfg
    assert cfg.img_size == 170
    assert "optim_wrapper" in cfg and "data" in cfg  # inherited from the built-in config
    assert "backbone" not in cfg.model  # the built-in model section is replaced, not merged
    model.eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, cfg.img_size, cfg.img_size)).shape == (1, 8)


def test_drml_init_keeps_the_signal_to_the_logits():
    # PyTorch's default init shrinks the signal ~50-fold through DRML's seven
    # ReLU layers, and the model never leaves the label prior (F1 0 in the demo).
    torch.manual_seed(0)
    model = DRML(pooled_size=4).train()
    sizes = {}
    for name in ("conv1", "features", "classifier.4"):
        model.get_submodule(name).register_forward_hook(
            lambda m, i, o, name=name: sizes.__setitem__(name, float(o.detach().std())))
    x = torch.rand(8, 3, 64, 64)
    model(x)
    assert sizes["features"] > 0.3 * sizes["conv1"]
    assert sizes["classifier.4"] > 0.3 * sizes["conv1"]
    # two different faces give visibly different logits
    model.eval()
    with torch.no_grad():
        logits = model(x)
    assert float(logits.std(0).mean()) > 1e-3
    assert model.aus == (1, 2, 4, 6, 9, 12, 25, 26)  # aus=None: DISFA's
