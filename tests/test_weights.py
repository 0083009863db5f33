"""Safe weight loading and the VGGFace2 SENet-50 pickle converter.

The reference here is written straight from the Caffe model's structure
(stride on the 1x1 conv, ceil-mode stem pool, SE after bn3, BGR-mean input),
independently of auzoo's backbone, and run from the pickle dict itself.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from auzoo import cli
from auzoo.weights import (UnsafePickleError, convert_vggface2_senet50, load_numpy_pickle,
                           load_state_dict_file, vggface2_to_backbone_name)

STAGES = (3, 4, 6, 3)
WIDTHS = (64, 128, 256, 512)
BGR_MEAN = (91.4953, 103.8827, 131.0912)


def vggface2_shapes():
    """Every name and shape in senet50_*_weight.pkl, generated from the architecture."""
    shapes = {"conv1.weight": (64, 3, 7, 7)}
    shapes.update({f"bn1.{p}": (64,) for p in ("weight", "bias", "running_mean", "running_var")})
    cin = 64
    for stage, (blocks, width) in enumerate(zip(STAGES, WIDTHS), start=1):
        cout = width * 4
        for b in range(blocks):
            p = f"layer{stage}.{b}."
            convs = {"conv1": (width, cin if b == 0 else cout, 1, 1),
                     "conv2": (width, width, 3, 3), "conv3": (cout, width, 1, 1)}
            for name, shape in convs.items():
                shapes[p + name + ".weight"] = shape
                bn_width = shape[0]
                for q in ("weight", "bias", "running_mean", "running_var"):
                    shapes[f"{p}bn{name[-1]}.{q}"] = (bn_width,)
            shapes[p + "conv4.weight"] = (cout // 16, cout, 1, 1)
            shapes[p + "conv4.bias"] = (cout // 16,)
            shapes[p + "conv5.weight"] = (cout, cout // 16, 1, 1)
            shapes[p + "conv5.bias"] = (cout,)
            if b == 0:
                shapes[p + "downsample.0.weight"] = (cout, cin, 1, 1)
                for q in ("weight", "bias", "running_mean", "running_var"):
                    shapes[f"{p}downsample.1.{q}"] = (cout,)
        cin = cout
    shapes["fc.weight"] = (8631, 2048)
    shapes["fc.bias"] = (8631,)
    return shapes


def random_vggface2(seed=0):
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in vggface2_shapes().items():
        if name.startswith("fc."):
            weights[name] = np.zeros(shape, np.float32)  # dropped by the converter
        elif name.endswith("running_var"):
            weights[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif name.endswith("running_mean"):
            weights[name] = rng.normal(0, 0.1, shape).astype(np.float32)
        elif len(shape) == 1 and "bn" in name or "downsample.1" in name:
            weights[name] = (rng.uniform(0.5, 1.0, shape) if name.endswith("weight")
                             else rng.normal(0, 0.1, shape)).astype(np.float32)
        elif name.endswith("bias"):
            weights[name] = rng.normal(0, 0.1, shape).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:]))
            weights[name] = rng.normal(0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)
    return weights


def caffe_senet50_features(w, images):
    """Independent SENet-50 forward from the pickle dict: features of the 4 stages."""
    t = {k: torch.from_numpy(v) for k, v in w.items()}

    def bn(x, p):
        return F.batch_norm(x, t[p + ".running_mean"], t[p + ".running_var"],
                            t[p + ".weight"], t[p + ".bias"], training=False, eps=1e-5)

    x = images.flip(1) * 255.0 - torch.tensor(BGR_MEAN).view(1, 3, 1, 1)
    x = F.relu(bn(F.conv2d(x, t["conv1.weight"], stride=2, padding=3), "bn1"))
    x = F.max_pool2d(x, 3, 2, 0, ceil_mode=True)
    feats = []
    for stage, blocks in enumerate(STAGES, start=1):
        for b in range(blocks):
            p = f"layer{stage}.{b}."
            stride = 2 if b == 0 and stage > 1 else 1
            out = F.relu(bn(F.conv2d(x, t[p + "conv1.weight"], stride=stride), p + "bn1"))
            out = F.relu(bn(F.conv2d(out, t[p + "conv2.weight"], padding=1), p + "bn2"))
            out = bn(F.conv2d(out, t[p + "conv3.weight"]), p + "bn3")
            gate = out.mean((2, 3), keepdim=True)
            gate = F.relu(F.conv2d(gate, t[p + "conv4.weight"], t[p + "conv4.bias"]))
            gate = torch.sigmoid(F.conv2d(gate, t[p + "conv5.weight"], t[p + "conv5.bias"]))
            out = out * gate
            if b == 0:
                x = bn(F.conv2d(x, t[p + "downsample.0.weight"], stride=stride), p + "downsample.1")
            x = F.relu(out + x)
        feats.append(x)
    return feats


@pytest.fixture(scope="module")
def vggface2_pickle(tmp_path_factory):
    weights = random_vggface2()
    path = tmp_path_factory.mktemp("vggface2") / "senet50_ft_weight.pkl"
    with open(path, "wb") as f:
        pickle.dump(weights, f, protocol=2)  # the protocol of the Python 2 originals
    return path, weights


def _write_pickle(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)
    return path


# ------------------------------------------------------------------ the converter

def test_names_map_as_documented():
    assert vggface2_to_backbone_name("layer3.4.conv4.weight") == "layer3.4.se.fc1.weight"
    assert vggface2_to_backbone_name("layer1.0.conv5.bias") == "layer1.0.se.fc2.bias"
    assert vggface2_to_backbone_name("layer1.0.conv3.weight") == "layer1.0.conv3.weight"
    assert vggface2_to_backbone_name("conv1.weight") == "conv1.weight"
    assert vggface2_to_backbone_name("layer2.0.downsample.1.running_var") == \
        "layer2.0.downsample.1.running_var"
    assert vggface2_to_backbone_name("fc.weight") is None


def test_converted_weights_give_the_caffe_features(vggface2_pickle, tmp_path):
    from auzoo import registry

    src, weights = vggface2_pickle
    dst = tmp_path / "senet50_ft.pth"
    assert cli.main(["convert-weights", str(src), str(dst)]) == 0
    state = torch.load(dst, weights_only=True)
    assert not any(k.startswith("fc.") for k in state)
    backbone = registry.build_part(registry.BACKBONES,
                                   dict(type="VGGFace2SENet50", weights=str(dst))).eval()
    images = torch.rand(2, 3, 68, 68, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got = backbone(images)
        want = caffe_senet50_features(weights, images)
    assert [tuple(f.shape) for f in got] == [tuple(f.shape) for f in want]
    for g, w in zip(got, want):
        scale = w.abs().max().item()
        assert scale > 1e-3  # features carry signal, not all zeros
        assert (g - w).abs().max().item() <= 1e-4 * max(1.0, scale)


def test_missing_and_unexpected_names_are_named(vggface2_pickle, tmp_path):
    _, weights = vggface2_pickle
    broken = dict(weights)
    del broken["layer2.1.conv2.weight"]
    del broken["layer4.2.conv5.bias"]
    broken["layer5.0.conv1.weight"] = np.zeros((1,), np.float32)
    path = _write_pickle(tmp_path / "broken.pkl", broken)
    with pytest.raises(ValueError) as err:
        convert_vggface2_senet50(load_numpy_pickle(path), source=str(path))
    msg = str(err.value)
    assert str(path) in msg
    assert "layer2.1.conv2.weight" in msg and "layer4.2.se.fc2.bias" in msg
    assert "unexpected 1: layer5.0.conv1.weight" in msg


def test_wrong_shape_is_named(vggface2_pickle, tmp_path):
    _, weights = vggface2_pickle
    broken = dict(weights)
    broken["layer3.0.conv2.weight"] = np.zeros((256, 256, 1, 1), np.float32)
    path = _write_pickle(tmp_path / "shape.pkl", broken)
    with pytest.raises(ValueError, match=r"shape of layer3\.0\.conv2\.weight: \(256, 256, 1, 1\)"):
        convert_vggface2_senet50(load_numpy_pickle(path), source=str(path))


def test_convert_refuses_to_overwrite(vggface2_pickle, tmp_path, capsys):
    src, _ = vggface2_pickle
    dst = tmp_path / "exists.pth"
    dst.write_bytes(b"user data")
    assert cli.main(["convert-weights", str(src), str(dst)]) == 2
    assert "exists" in capsys.readouterr().err
    assert dst.read_bytes() == b"user data"


# ------------------------------------------------------------------ the safe unpickler

class _TouchesAFile:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class _RunsAShellCommand:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.path}",))


@pytest.mark.parametrize("payload", [_TouchesAFile, _RunsAShellCommand])
def test_pickle_with_code_is_refused_without_running_it(tmp_path, payload, capsys):
    marker = tmp_path / "pwned"
    evil = {"conv1.weight": np.zeros((2, 2), np.float32), "bn1.weight": payload(str(marker))}
    path = _write_pickle(tmp_path / "senet50_ft_weight.pkl", evil)
    with pytest.raises(UnsafePickleError, match="refused") as err:
        load_numpy_pickle(path)
    assert str(path) in str(err.value)
    assert not marker.exists()
    # the command refuses it too, with a clear message and no traceback
    assert cli.main(["convert-weights", str(path), str(tmp_path / "out.pth")]) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "out.pth").exists()


def test_numpy_pickles_of_every_protocol_load(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], np.int64)}
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        path = tmp_path / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(arrays, protocol=protocol))
        got = load_numpy_pickle(path)
        assert got.keys() == arrays.keys()
        for k in arrays:
            np.testing.assert_array_equal(got[k], arrays[k])


def test_non_array_values_are_refused(tmp_path):
    path = _write_pickle(tmp_path / "mixed.pkl", {"conv1.weight": [1.0, 2.0]})
    with pytest.raises(ValueError, match="'conv1.weight' is list"):
        load_numpy_pickle(path)
    path = _write_pickle(tmp_path / "objects.pkl", {"w": np.array([1, "x"], dtype=object)})
    with pytest.raises(ValueError, match="'w' is object"):
        load_numpy_pickle(path)
    path = tmp_path / "notapickle.pkl"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="notapickle.pkl"):
        load_numpy_pickle(path)


# ------------------------------------------------------------------ PyTorch weight files

def test_load_state_dict_file_reads_checkpoints_and_plain_state_dicts(tmp_path):
    sd = {"w": torch.ones(2), "b": torch.zeros(1)}
    torch.save(sd, tmp_path / "plain.pth")
    torch.save({"meta": {"aus": [1, 2]}, "state_dict": {f"module.{k}": v for k, v in sd.items()}},
               tmp_path / "ckpt.pth")
    for name in ("plain.pth", "ckpt.pth"):
        got = load_state_dict_file(tmp_path / name)
        assert got.keys() == sd.keys() and torch.equal(got["w"], sd["w"])


def test_load_state_dict_file_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"w": torch.ones(1), "x": _TouchesAFile(str(marker))}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match="evil.pth"):
        load_state_dict_file(tmp_path / "evil.pth")
    assert not marker.exists()


def test_load_state_dict_file_points_pickles_to_the_converter(tmp_path):
    path = _write_pickle(tmp_path / "senet50_scratch_weight.pkl", {"w": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match="auzoo convert-weights"):
        load_state_dict_file(path)
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        load_state_dict_file(tmp_path / "nothere.pth")


# --------------------------------------------------------------- strict loading, initialisation record

def test_load_state_dict_strict_lists_every_kind_of_mismatch():
    from auzoo.weights import WeightsMismatchError, load_state_dict_strict

    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    state = {k: v.clone() + 1 for k, v in module.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    load_state_dict_strict(module, state, "good.pth")  # counters may be missing
    assert torch.equal(module[0].weight, state["0.weight"])

    bad = dict(state)
    del bad["1.bias"]
    bad["2.weight"] = torch.zeros(1)
    bad["0.weight"] = torch.zeros(4, 3, 5, 5)
    before = module[0].bias.clone()
    bad["0.bias"] = before + 5
    with pytest.raises(WeightsMismatchError) as err:
        load_state_dict_strict(module, bad, "/data/bad.pth")
    message = str(err.value)
    assert message.startswith("/data/bad.pth: does not fit Sequential")
    assert "missing from the file 1: 1.bias" in message
    assert "not in the model 1: 2.weight" in message
    assert "0.weight (4, 3, 5, 5) in the file, (4, 3, 3, 3) in the model" in message
    assert torch.equal(module[0].bias, before)  # nothing loaded


def test_load_state_dict_strict_under_prefixes():
    from auzoo.weights import WeightsMismatchError, load_state_dict_strict

    model = torch.nn.ModuleDict(dict(backbone=torch.nn.Linear(2, 3), head=torch.nn.Linear(3, 1)))
    other = torch.nn.ModuleDict(dict(backbone=torch.nn.Linear(2, 3), head=torch.nn.Linear(3, 4)))
    head_before = model.head.weight.clone()
    load_state_dict_strict(model, other.state_dict(), "stage1.pth", prefixes=["backbone."])
    assert torch.equal(model.backbone.weight, other.backbone.weight)
    assert torch.equal(model.head.weight, head_before)  # outside the prefix: untouched
    partial = {"backbone.weight": other.backbone.weight}
    with pytest.raises(WeightsMismatchError, match="stage1.pth.*missing from the file 1: backbone.bias"):
        load_state_dict_strict(model, partial, "stage1.pth", prefixes=["backbone."])
    with pytest.raises(WeightsMismatchError, match="other shapes.*head.weight"):
        load_state_dict_strict(model, other.state_dict(), "stage1.pth", prefixes=["head."])
    with pytest.raises(WeightsMismatchError, match="no keys under neck."):
        load_state_dict_strict(model, other.state_dict(), "stage1.pth", prefixes=["neck."])


def test_backbone_init_records_file_and_checksum(tmp_path):
    import hashlib

    import auzoo
    from auzoo.models.backbones import VGGFace2SENet50
    from auzoo.weights import backbone_init

    model = auzoo.build_model("senet50", **{"backbone.frozen_stages": 0})
    assert backbone_init(model) == {"weights": "random"}

    path = tmp_path / "senet50_ft.pth"
    torch.save(VGGFace2SENet50(frozen_stages=0).state_dict(), path)
    model = auzoo.build_model("senet50", **{"backbone.weights": str(path)})
    assert backbone_init(model) == {"weights": "senet50_ft.pth",
                                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert backbone_init(torch.nn.Linear(2, 2)) == {"weights": "random"}


@pytest.mark.parametrize("backbone", [
    dict(type="VGGFace2SENet50", weights=None, frozen_stages=2),
    dict(type="TimmBackbone", model_name="test_resnet", weights=None, frozen_stages=2),
])
def test_frozen_random_backbone_is_refused_with_the_fix(backbone):
    from auzoo import registry
    from auzoo.weights import RandomFrozenInitError, check_frozen_init

    part = registry.build_part(registry.BACKBONES, backbone)
    model = torch.nn.Sequential(part)
    with pytest.raises(RandomFrozenInitError) as err:
        check_frozen_init(model, allow_random_init=False)
    message = str(err.value)
    assert "frozen_stages=2" in message and "model.backbone.weights=" in message
    assert "--allow-random-init" in message and "allow_random_init=True" in message
    if backbone["type"] == "VGGFace2SENet50":
        assert "auzoo convert-weights senet50_ft_weight.pkl senet50_ft.pth" in message
    check_frozen_init(model, allow_random_init=True)  # the explicit opt-in

    unfrozen = torch.nn.Sequential(registry.build_part(registry.BACKBONES, dict(backbone, frozen_stages=0)))
    check_frozen_init(unfrozen, allow_random_init=False)  # nothing frozen: nothing to refuse


def test_frozen_backbone_with_weights_is_accepted(tmp_path):
    from auzoo.models.backbones import TimmBackbone
    from auzoo.weights import check_frozen_init

    import timm
    path = tmp_path / "test_resnet.pth"
    torch.save(timm.create_model("test_resnet").state_dict(), path)
    check_frozen_init(TimmBackbone("test_resnet", weights=str(path), frozen_stages=2))
