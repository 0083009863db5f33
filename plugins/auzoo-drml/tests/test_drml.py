import pytest
import torch

import auzoo
from auzoo import registry
from auzoo_drml.drml import DRML, MIN_INPUT_SIZE, RegionLayer


def _region_layer(grid=(8, 8), channels=4, seed=0) -> RegionLayer:
    torch.manual_seed(seed)
    layer = RegionLayer(channels, grid)
    # Random affine BatchNorm parameters, so that patches differ in them too.
    for block in layer.blocks:
        torch.nn.init.uniform_(block[0].weight, 0.5, 1.5)
        torch.nn.init.uniform_(block[0].bias, -0.5, 0.5)
    return layer


def _patch_slices(size, parts):
    bounds = torch.tensor_split(torch.arange(size), parts)
    return [slice(int(b[0]), int(b[-1]) + 1) for b in bounds]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("size", [32, 29])  # even patches, and patches of 3 and 4 pixels
def test_region_layer_patch_changes_only_its_own_output(training, size):
    layer = _region_layer().train(training)
    x = torch.randn(3, 4, size, size)
    rows, cols = _patch_slices(size, 8), _patch_slices(size, 8)
    r, c = rows[2], cols[5]  # patch (2, 5)
    x2 = x.clone()
    x2[:, :, r, c] = torch.randn_like(x2[:, :, r, c]) * 3
    with torch.no_grad():
        before, after = layer.patch_responses(x), layer.patch_responses(x2)
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
    # reaches that patch's block only.
    layer.zero_grad()
    layer.patch_responses(x)[:, :, 10:15, 25:30].sum().backward()  # patch (2, 5)
    touched = [i for i, block in enumerate(layer.blocks)
               if any(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())]
    assert touched == [2 * 8 + 5]
    storages = {p.data_ptr() for block in layer.blocks for p in block.parameters()}
    assert len(storages) == 64 * 4  # BN weight and bias, conv weight and bias, per patch


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
    assert all(block[2].weight.grad.abs().sum() > 0 for block in model.region.blocks)
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
    assert "train" in cfg and "data" in cfg  # inherited from the built-in config
    assert "backbone" not in cfg.model  # the built-in model section is replaced, not merged
    model.eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, cfg.img_size, cfg.img_size)).shape == (1, 8)
