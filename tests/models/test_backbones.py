"""The VGGFace2 SENet-50 layout, freezing, weight files; the timm backbone."""
from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

from auzoo.models.backbones import TimmBackbone, VGGFace2SENet50
from auzoo.models.backbones.senet import VGGFACE2_MEAN_BGR

from .helpers import randomize_


@pytest.fixture(scope="module")
def senet():
    return randomize_(VGGFace2SENet50(frozen_stages=0)).eval()


# ----------------------------------------------------------------- SENet-50 layout

def test_senet_is_caffe_style(senet):
    for stage in (2, 3, 4):
        block = getattr(senet, f"layer{stage}")[0]
        assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)
        assert block.downsample[0].stride == (2, 2)
    assert senet.layer1[0].conv1.stride == (1, 1)
    pool = senet.maxpool
    assert (pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode) == (3, 2, 0, True)
    assert senet.out_channels == [256, 512, 1024, 2048] and senet.out_strides == [4, 8, 16, 32]
    assert not hasattr(senet, "fc")


def test_senet_names_are_the_converted_pickle_names(senet):
    names = set(senet.state_dict())
    for name in ("conv1.weight", "bn1.running_var", "layer1.0.downsample.0.weight",
                 "layer1.0.downsample.1.running_mean", "layer3.5.conv3.weight", "layer4.2.bn3.bias",
                 "layer2.3.se.fc1.weight", "layer2.3.se.fc1.bias", "layer4.2.se.fc2.bias"):
        assert name in names
    assert not any(".conv4." in n or ".conv5." in n or n.startswith("fc.") for n in names)
    assert senet.layer4[0].se.fc1.weight.shape == (128, 2048, 1, 1)
    assert "layer1.1.downsample.0.weight" not in names


@pytest.mark.parametrize("size, layer1", [(224, 56), (97, 24)])
def test_stem_pool_ceil_mode_no_padding(size, layer1):
    # 224: conv1 gives 112; ceil-mode pool 56 (floor would give 55).
    # 97: conv1 gives 49; unpadded pool 24 (torchvision's padded pool gives 25).
    net = VGGFace2SENet50(out_indices=(1,)).eval()
    with torch.no_grad():
        (out,) = net(torch.rand(1, 3, size, size))
    assert out.shape == (1, 256, layer1, layer1)


def test_senet_matches_timm_legacy_seresnet50(senet):
    """timm's legacy SENet is Caffe-style too: same weights, same features, once
    the input is converted to the VGGFace2 convention by hand."""
    ref = timm.create_model("legacy_seresnet50", pretrained=False).eval()
    own = senet.state_dict()
    mapped = {}
    for key in ref.state_dict():
        if key.startswith("last_linear"):
            continue
        name = key.replace("layer0.", "").replace("se_module.", "se.")
        mapped[key] = own[name]
    ref.load_state_dict(mapped, strict=False)
    x = torch.rand(2, 3, 80, 80)
    bgr = x.flip(1) * 255 - torch.tensor(VGGFACE2_MEAN_BGR).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = ref.forward_features(bgr)
        got = senet(x)[-1]
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert got.shape == (2, 2048, 3, 3)


def test_senet_channels_last(senet):
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a = senet(x)[-1]
        b = senet.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))[-1]
    senet.to(memory_format=torch.contiguous_format)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------- freezing

def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_frozen_stages_do_not_move():
    net = VGGFace2SENet50(frozen_stages=2)
    net.train()
    assert not net.bn1.training and not net.layer1[0].bn1.training and net.layer2[0].bn1.training
    frozen = {"conv1": net.conv1, "bn1": net.bn1, "layer1": net.layer1}
    before = {k: snapshot(m) for k, m in frozen.items()}
    layer2_before = snapshot(net.layer2)
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    for _ in range(2):
        loss = net(torch.rand(2, 3, 64, 64))[-1].square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for name, module in frozen.items():
        assert all(not p.requires_grad and p.grad is None for p in module.parameters()), name
        for key, value in snapshot(module).items():
            assert torch.equal(value, before[name][key]), f"{name}.{key} moved"
    moved = [k for k, v in snapshot(net.layer2).items() if not torch.equal(v, layer2_before[k])]
    assert any("running_mean" in k for k in moved) and any(k.endswith("conv1.weight") for k in moved)


def test_no_frozen_stages_trains_everything():
    net = VGGFace2SENet50(frozen_stages=0).train()
    before = net.bn1.running_mean.clone()
    net(torch.rand(2, 3, 64, 64))
    assert all(p.requires_grad for p in net.parameters())
    assert not torch.equal(before, net.bn1.running_mean)
    with pytest.raises(ValueError):
        VGGFace2SENet50(frozen_stages=6)


# ----------------------------------------------------------------- weight files

def test_weights_load_strictly(tmp_path, senet):
    path = tmp_path / "senet50_ft.pth"
    state = {k: v for k, v in senet.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, path)
    loaded = VGGFace2SENet50(weights=str(path))
    for key, value in state.items():
        assert torch.equal(loaded.state_dict()[key], value), key

    del state["layer3.2.conv2.weight"]
    state["fc.weight"] = torch.zeros(8631, 2048)
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"senet50_ft\.pth.*layer3\.2\.conv2\.weight.*fc\.weight"):
        VGGFace2SENet50(weights=str(path))

    state = dict(senet.state_dict())
    state["layer1.0.se.fc1.weight"] = torch.zeros(16, 256, 3, 3)
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"senet50_ft\.pth.*layer1\.0\.se\.fc1\.weight"):
        VGGFace2SENet50(weights=str(path))
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        VGGFace2SENet50(weights=str(tmp_path / "nowhere.pth"))


# ----------------------------------------------------------------- timm

def test_timm_backbone_features_and_normalisation():
    backbone = TimmBackbone("test_resnet").eval()
    body = backbone.body
    assert backbone.out_channels == body.feature_info.channels()
    assert backbone.out_strides == [2, 4, 8, 16, 32]
    mean = torch.tensor(body.pretrained_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(body.pretrained_cfg["std"]).view(1, 3, 1, 1)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = body((x - mean) / std)
        got = backbone(x)
    assert len(got) == 5
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)
    assert not backbone.state_dict().keys() & {"mean", "std"}


def test_timm_backbone_local_file(tmp_path):
    classifier = timm.create_model("test_resnet", pretrained=False)
    path = tmp_path / "test_resnet.pth"
    torch.save(classifier.state_dict(), path)
    backbone = TimmBackbone("test_resnet", weights=str(path), out_indices=(2, 3, 4))
    assert torch.equal(backbone.body.layer2[0].conv1.weight, classifier.layer2[0].conv1.weight)
    assert backbone.out_strides == [8, 16, 32]
    assert backbone.init_record["weights"] == "test_resnet.pth"
    assert len(backbone.init_record["sha256"]) == 64

    other = timm.create_model("test_efficientnet", pretrained=False)
    torch.save(other.state_dict(), path)
    with pytest.raises(ValueError, match=r"test_resnet\.pth: does not fit .*missing from the file"):
        TimmBackbone("test_resnet", weights=str(path))
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        TimmBackbone("test_resnet", weights=str(tmp_path / "missing.pth"))
    with pytest.raises(KeyError, match="no_such_net"):
        TimmBackbone("no_such_net")


def test_timm_backbone_loads_flattened_stages(tmp_path):
    # features_only renames 'stages.1' to 'stages_1'; every feature weight must still come from the file
    classifier = timm.create_model("test_convnext", pretrained=False)
    with torch.no_grad():
        for p in classifier.parameters():
            p.add_(1.0)
    path = tmp_path / "test_convnext.safetensors"
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in classifier.state_dict().items()}, str(path))
    backbone = TimmBackbone("test_convnext", weights=str(path)).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = classifier.forward_intermediates((x - backbone.mean) / backbone.std,
                                                    intermediates_only=True)
        got = backbone(x)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)


def test_timm_backbone_old_key_names_the_new_one(tmp_path):
    with pytest.raises(TypeError, match="'pretrained_file' is now called 'weights'"):
        TimmBackbone("test_resnet", pretrained_file=str(tmp_path / "x.pth"))
    # an old config that leaves it None names no file: nothing to refuse
    assert TimmBackbone("test_resnet", pretrained_file=None).init_record == {"weights": "random"}


def test_timm_backbone_frozen_stages():
    backbone = TimmBackbone("test_resnet", frozen_stages=2).train()
    body = backbone.body
    assert not any(p.requires_grad for m in (body.conv1, body.bn1, body.layer1) for p in m.parameters())
    assert all(p.requires_grad for p in body.layer2.parameters())
    assert not body.bn1.training and not any(m.training for m in body.layer1.modules())
    assert body.layer2.training
    before = body.layer1[0].bn1.running_mean.clone()
    backbone(torch.rand(2, 3, 64, 64))
    assert torch.equal(before, body.layer1[0].bn1.running_mean)
    assert isinstance(body.bn1, nn.BatchNorm2d)


# ----------------------------------------------------------------- Swin's official layout

TINY_SWIN = dict(embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2))


def _official_swin(model):
    """microsoft/Swin-Transformer's layout of a timm Swin: ``{'model': ...}``, patch merging
    at the end of each stage, the attention buffers saved, the classifier as ``head``."""
    import re

    out = {}
    for key, value in model.state_dict().items():
        key = re.sub(r"^layers\.(\d+)\.downsample\.",
                     lambda m: f"layers.{int(m.group(1)) - 1}.downsample.", key)
        out[key.replace("head.fc.", "head.")] = value
    out.update({k: b for k, b in model.named_buffers()
                if k.endswith(("relative_position_index", "attn_mask"))})
    return {"model": out}


def test_timm_backbone_reads_the_official_swin_layout(tmp_path):
    torch.manual_seed(0)
    classifier = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False,
                                   **TINY_SWIN).eval()
    official = _official_swin(classifier)
    assert any(k.endswith("attn_mask") for k in official["model"])
    # an ImageNet-22k classifier has another shape: the head is dropped, not loaded
    official["model"]["head.weight"] = torch.ones(21841, 128)
    official["model"]["head.bias"] = torch.ones(21841)
    path = tmp_path / "swin_tiny_patch4_window7_224.pth"
    torch.save(official, path)
    backbone = TimmBackbone("swin_tiny_patch4_window7_224", weights=str(path), out_indices=(3,),
                            **TINY_SWIN).eval()
    ref = classifier.state_dict()
    for key, value in backbone.body.state_dict().items():
        assert torch.equal(value, ref[key if key in ref else key.replace("_", ".", 1)]), key
    assert torch.equal(backbone.body.layers_1.downsample.reduction.weight,
                       official["model"]["layers.0.downsample.reduction.weight"])
    assert set(backbone.left_out_weights) == {"norm.weight", "norm.bias"}
    assert torch.equal(backbone.left_out_weights["norm.weight"], classifier.norm.weight)
    assert backbone.init_record["layout"] == "official Swin (microsoft/Swin-Transformer)"
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        want = classifier.layers(classifier.patch_embed((x - backbone.mean) / backbone.std))
        assert torch.equal(backbone(x)[-1], want)


def test_timm_backbone_refuses_an_official_swin_file_that_does_not_fit(tmp_path):
    classifier = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, **TINY_SWIN)
    official = _official_swin(classifier)
    official["model"]["layers.1.blocks.0.mlp.fc3.weight"] = torch.ones(2)
    del official["model"]["layers.2.downsample.norm.bias"]
    path = tmp_path / "swin_t.pth"
    torch.save(official, path)
    with pytest.raises(ValueError) as err:
        TimmBackbone("swin_tiny_patch4_window7_224", weights=str(path), **TINY_SWIN)
    message = str(err.value)
    assert message.startswith(f"{path}: does not fit SwinTransformer")
    assert "missing from the file 1: layers.3.downsample.norm.bias" in message
    assert "not in the model 1: layers.1.blocks.0.mlp.fc3.weight" in message
    # timm's own layout is left as it is: its classifier must be there and fit
    state = classifier.state_dict()
    del state["head.fc.bias"]
    torch.save(state, path)
    with pytest.raises(ValueError, match="missing from the file 1: head.fc.bias"):
        TimmBackbone("swin_tiny_patch4_window7_224", weights=str(path), **TINY_SWIN)
