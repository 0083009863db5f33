"""Swin-B's ImageNet start, as the config takes it (``model.backbone.weights``): a file
in timm's layout or in the official Swin repository's, the final norm included."""
import re

import pytest
import timm
import torch

import auzoo

SWIN_B = "swin_base_patch4_window7_224"


def official_layout(model: torch.nn.Module) -> dict:
    """What microsoft/Swin-Transformer saves for ``model``: ``{'model': state}``, patch
    merging at the end of each stage, its attention buffers, the classifier as ``head``."""
    out = {}
    for key, value in model.state_dict().items():
        key = re.sub(r"^layers\.(\d+)\.downsample\.",
                     lambda m: f"layers.{int(m.group(1)) - 1}.downsample.", key)
        out[key.replace("head.fc.", "head.")] = value
    for name, buf in model.named_buffers():  # persistent buffers in the official code
        if name.endswith(("relative_position_index", "attn_mask")):
            out[name] = buf
    return {"model": out}


@pytest.fixture(scope="module")
def imagenet_swin_b():
    """A randomly initialised timm Swin-B classifier; its final norm is not LayerNorm's
    ones and zeros, so a norm left at its initial values shows."""
    torch.manual_seed(0)
    model = timm.create_model(SWIN_B, pretrained=False).eval()
    with torch.no_grad():
        model.norm.weight.uniform_(0.5, 1.5)
        model.norm.bias.normal_()
    return model


def _tokens_of(reference, images, mean, std):
    with torch.no_grad():
        return reference.forward_features((images - mean) / std).flatten(1, 2)


@pytest.mark.slow  # Swin-B built and loaded twice (about 25 s on two cores)
def test_swin_b_starts_from_either_layout_final_norm_included(imagenet_swin_b, tmp_path):
    from safetensors.torch import save_file

    files = {"timm": tmp_path / "model.safetensors",  # as timm's hub saves .ms_in1k
             "official": tmp_path / "swin_base_patch4_window7_224.pth"}
    save_file({k: v.contiguous() for k, v in imagenet_swin_b.state_dict().items()},
              str(files["timm"]))
    official = official_layout(imagenet_swin_b)
    assert "layers.0.downsample.reduction.weight" in official["model"]
    torch.save(official, files["official"])
    images = torch.rand(1, 3, 224, 224)
    for layout, path in files.items():
        model = auzoo.build_model("megraphau_swinb_stage1", **{"backbone.weights": str(path)}).eval()
        assert model.backbone.init_record["layout"].startswith(
            "timm" if layout == "timm" else "official Swin")
        assert torch.equal(model.token_norm.weight, imagenet_swin_b.norm.weight), layout
        assert torch.equal(model.token_norm.bias, imagenet_swin_b.norm.bias), layout
        reference = imagenet_swin_b.state_dict()
        for key, value in model.backbone.body.state_dict().items():
            source = key if key in reference else key.replace("_", ".", 1)
            assert torch.equal(value, reference[source]), (layout, key)
        with torch.no_grad():
            got = model.tokens(images)
        want = _tokens_of(imagenet_swin_b, images, model.backbone.mean, model.backbone.std)
        assert torch.equal(got, want), layout


def test_an_official_file_with_a_stray_or_missing_tensor_is_refused(imagenet_swin_b, tmp_path):
    path = tmp_path / "swin_base_patch4_window7_224.pth"
    official = official_layout(imagenet_swin_b)
    official["model"]["layers.2.blocks.3.attn.extra"] = torch.ones(1)
    del official["model"]["layers.1.downsample.norm.weight"]  # timm's layers.2.downsample
    torch.save(official, path)
    with pytest.raises(ValueError) as err:
        auzoo.build_model("megraphau_swinb_stage1", **{"backbone.weights": str(path)})
    message = str(err.value)
    assert str(path) in message
    assert "missing from the file 1: layers.2.downsample.norm.weight" in message
    assert "not in the model 1: layers.2.blocks.3.attn.extra" in message


def test_the_configs_take_the_file_as_weights_and_random_starts_stay_random():
    for name in ("megraphau_r50_stage1", "megraphau_swinb_stage1"):
        backbone = auzoo.load_config(name).model.backbone
        assert "weights" in backbone and "pretrained_file" not in backbone
    with torch.device("meta"):
        model = auzoo.build_model("megraphau_swinb_stage1")
    assert model.backbone.init_record == {"weights": "random"}
