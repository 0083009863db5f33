"""``auzoo export``: the file's metadata, its command line, and what cannot be exported."""
from __future__ import annotations

import hashlib
import json
import sys

import cv2
import numpy as np
import onnx
import pytest
import torch
from mmengine.config import Config
from torch import nn

import auzoo
from auzoo import cli
from auzoo.engine.checkpoint import save_checkpoint
from auzoo.export import ExportError, OnnxFileError, OnnxMetadata, export_onnx, read_metadata
from auzoo.export.exporter import build_metadata
from auzoo.export.metadata import KEYS
from auzoo.inference.backends import OnnxInference, load_model
from auzoo.registry import MODELS

from .conftest import model_config, write_checkpoint

AUS = (1, 2, 4, 6, 9, 12, 25, 26)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A RegionAUNet on timm's test_resnet, as ``auzoo train`` saves it, and its export."""
    root = tmp_path_factory.mktemp("tiny")
    ckpt = write_checkpoint(root / "best.pth", model_config("resnet50", 48, tiny_backbone=True),
                            "resnet50")
    return ckpt, export_onnx(ckpt, root / "resnet50.onnx")


def test_metadata_carries_what_predict_needs(tiny):
    ckpt, result = tiny
    proto = onnx.load(str(result.path))
    props = {p.key: p.value for p in proto.metadata_props}
    assert set(KEYS) <= set(props)
    m = read_metadata(result.path)
    assert m == result.metadata
    assert (m.model, m.aus, m.img_size, m.requires_landmarks, m.outputs) == \
        ("resnet50", AUS, 48, False, ("logits",))
    # the source checkpoint, by content, and what produced it
    digest = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert m.checkpoint_sha256 == digest == props["checkpoint_sha256"]
    assert m.checkpoint["file"] == "best.pth" and m.checkpoint["meta"]["fold"] == 1
    assert m.config == torch.load(ckpt, weights_only=True)["meta"]["config"]
    assert Config.fromstring(m.config, file_format=".py").model.type == "RegionAUNet"
    # the test pipeline: the config names none, so TRA-Net's (the resize to 48 px follows)
    assert m.test_pipeline == [{"type": "AlignMidline", "size": 224}]
    assert json.loads(props["alignment"]) == {"type": "AlignMidline", "size": 224}
    # versions and the opset the graph really has
    assert m.versions["torch"] == torch.__version__ and m.versions["onnx"] == onnx.__version__
    assert m.opset == 18 == next(o.version for o in proto.opset_import if o.domain == "")
    # the graph: dynamic batch, the input size and layout the metadata states
    (images,) = proto.graph.input
    dims = [d.dim_param or d.dim_value for d in images.type.tensor_type.shape.dim]
    assert images.name == "images" and dims == ["batch", 3, 48, 48]
    assert json.loads(props["input"])["images"]["shape"] == ["batch", 3, 48, 48]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert OnnxMetadata.from_props(m.to_props(), "x") == m  # round trip


def test_a_config_test_pipeline_travels_verbatim(tmp_path):
    cfg = model_config("resnet50", 48, tiny_backbone=True)
    cfg.test_pipeline = [dict(type="AlignEyeBox", size=200, enlarge=2.9, border=128),
                         dict(type="CenterCrop", size=176)]
    ckpt = save_checkpoint(tmp_path / "c.pth", auzoo.build_model(cfg).state_dict(),
                           dict(config=cfg.pretty_text, model="eyebox", img_size=48))
    net = load_model(ckpt, device="cpu")[0]
    m = build_metadata(net, 48, 18, ["logits"])
    assert m.test_pipeline == cfg.test_pipeline
    props = m.to_props()
    assert json.loads(props["alignment"])["type"] == "AlignEyeBox"
    assert "format" not in m.checkpoint["meta"] and "config" not in m.checkpoint["meta"]
    assert m.checkpoint["file"] == "c.pth" and m.checkpoint["format"] == "auzoo"
    assert m.checkpoint_sha256 == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert OnnxMetadata.from_props(props, "x").test_pipeline == cfg.test_pipeline


def test_cli_exports_at_another_size_and_opset(tiny, tmp_path, capsys):
    ckpt, _ = tiny
    out = tmp_path / "m.onnx"
    assert cli.main(["export", "--weights", str(ckpt), "--out", str(out), "--img-size", "32",
                     "--opset", "20"]) == 0
    assert "wrote" in capsys.readouterr().err
    m = read_metadata(out)
    assert m.img_size == 32 and m.opset == 20
    proto = onnx.load(str(out))
    assert next(o.version for o in proto.opset_import if o.domain == "") == 20
    session = OnnxInference(out, device="cpu")
    frames = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    assert session.probabilities(frames).shape == (4, len(AUS))
    # an existing file is kept unless --force
    assert cli.main(["export", "--weights", str(ckpt), "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err


def test_cli_errors_name_the_file(tiny, tmp_path, capsys):
    ckpt, _ = tiny
    missing = tmp_path / "nope.pth"
    assert cli.main(["export", "--weights", str(missing), "--out", str(tmp_path / "a.onnx")]) == 2
    assert f"weights not found: {missing}" in capsys.readouterr().err
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    assert cli.main(["export", "--weights", str(text), "--out", str(tmp_path / "a.onnx")]) == 2
    assert f"{text}: not an auzoo checkpoint" in capsys.readouterr().err
    assert cli.main(["export", "--weights", str(ckpt), "--out", str(tmp_path / "a.pt")]) == 2
    assert "must end in .onnx" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["export", "--out", str(tmp_path / "a.onnx")])
    assert exit_.value.code == 2 and "--weights" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.onnx"))


def test_predict_refuses_onnx_files_it_cannot_use(tiny, tmp_path, capsys):
    _, result = tiny
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07 this is not protobuf")
    foreign = tmp_path / "foreign.onnx"  # a valid ONNX model from elsewhere: no auzoo metadata
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    graph = onnx.helper.make_graph(
        [node], "g", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph), str(foreign))
    image = tmp_path / "face.png"
    image.write_bytes(b"")  # never read: the weights are refused first
    for weights, message in ((garbage, f"{garbage}: not a readable ONNX model"),
                             (foreign, f"{foreign}: not an ONNX file written by `auzoo export`"),
                             (tmp_path / "missing.onnx", "weights not found")):
        assert cli.main(["predict", str(image), "--weights", str(weights)]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(OnnxFileError, match="not an ONNX file written by"):
        read_metadata(foreign)
    assert cli.main(["predict", str(image), "--weights", str(result.path), "--model", "tranet"]) == 2
    assert "an ONNX file holds its model; --model and --cfg-options are for checkpoints" in \
        capsys.readouterr().err
    assert cli.main(["predict", str(image), "--weights", str(result.path), str(foreign)]) == 2
    assert "an .onnx file is the whole model; give it alone" in capsys.readouterr().err
    with pytest.raises(ValueError, match="runs in fp32, not bf16"):
        auzoo.predict(image, weights=result.path, precision="bf16")


def test_a_missing_export_extra_is_named_with_its_install_command(tiny, monkeypatch, capsys,
                                                                  tmp_path):
    ckpt, result = tiny
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails, as when not installed
    assert cli.main(["export", "--weights", str(ckpt), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "onnxruntime not installed" in capsys.readouterr().err
    assert cli.main(["predict", str(tmp_path / "x.png"), "--weights", str(result.path)]) == 2
    assert "pip install 'auzoo[export]'" in capsys.readouterr().err


# ------------------------------------------------------------ what cannot be exported

class _Probe(nn.Module):
    def __init__(self, aus=AUS):
        super().__init__()
        self.aus = tuple(aus)
        self.loss_groups = [tuple(range(len(self.aus)))]
        self.proj = nn.Linear(3, len(self.aus))

    def features(self, images):
        return self.proj(images.mean(dim=(2, 3)))


@MODELS.register_module(name="ExportProbeSVD", force=True)
class _SVDProbe(_Probe):
    def forward(self, images, landmarks=None):  # an operator ONNX has no function for
        return self.features(images) + torch.linalg.svd(images[:, 0])[1][:, :1]


@MODELS.register_module(name="ExportProbeBranch", force=True)
class _BranchProbe(_Probe):
    def forward(self, images, landmarks=None):
        if images.mean() > 0.5:  # Python control flow on a tensor's value
            return self.features(images)
        return -self.features(images)


@MODELS.register_module(name="ExportProbeOpenCV", force=True)
class _OpenCVProbe(_Probe):
    def forward(self, images, landmarks=None):  # a library torch cannot trace through
        blurred = np.stack([cv2.GaussianBlur(im, (3, 3), 0) for im in images[:, 0].cpu().numpy()])
        return self.features(images) + torch.from_numpy(blurred.std(axis=(1, 2)))[:, None]


@MODELS.register_module(name="ExportProbeToList", force=True)
class _ToListProbe(_Probe):
    def forward(self, images, landmarks=None):  # traced, but for the example's batch size only
        return self.features(images) + torch.tensor(images.mean(dim=(1, 2, 3)).tolist())[:, None]


@MODELS.register_module(name="ExportProbeIntensity", force=True)
class _IntensityProbe(_Probe):
    requires_landmarks = True

    def forward(self, images, landmarks=None):
        logits = self.features(images)
        spread = landmarks.std(dim=1).mean(dim=1, keepdim=True)
        return dict(logits=logits, intensity=5 * torch.sigmoid(logits + spread / 10))


@MODELS.register_module(name="ExportProbeOddOutput", force=True)
class _OddOutputProbe(_Probe):
    def forward(self, images, landmarks=None):
        return dict(logits=self.features(images), heatmaps=images)


def _probe_checkpoint(tmp_path, model_type: str):
    cfg = Config(dict(img_size=32, model=dict(type=model_type)))
    return write_checkpoint(tmp_path / f"{model_type}.pth", cfg, model_type)


def test_an_operator_without_onnx_function_is_named(tmp_path):
    ckpt = _probe_checkpoint(tmp_path, "ExportProbeSVD")
    with pytest.raises(ExportError, match=r"model 'ExportProbeSVD'.*operation aten\._linalg_svd"
                                          r".*No ONNX function"):
        export_onnx(ckpt, tmp_path / "svd.onnx")
    assert not (tmp_path / "svd.onnx").exists()


def test_data_dependent_python_names_its_line(tmp_path):
    ckpt = _probe_checkpoint(tmp_path, "ExportProbeBranch")
    with pytest.raises(ExportError) as err:
        export_onnx(ckpt, tmp_path / "branch.onnx")
    message = str(err.value)
    assert "`if images.mean() > 0.5:" in message and "test_export.py:" in message
    assert "data-dependent" in message


def test_a_call_outside_torch_names_its_line(tmp_path):
    ckpt = _probe_checkpoint(tmp_path, "ExportProbeOpenCV")
    with pytest.raises(ExportError, match=r"model 'ExportProbeOpenCV'.*`blurred = np\.stack"
                                          r".*test_export\.py:\d+"):
        export_onnx(ckpt, tmp_path / "opencv.onnx")


def test_a_graph_fixed_to_one_batch_size_is_refused(tmp_path):
    ckpt = _probe_checkpoint(tmp_path, "ExportProbeToList")
    with pytest.raises(ExportError, match=r"does not run on a batch of 3.*fixed the batch size"):
        export_onnx(ckpt, tmp_path / "tolist.onnx")
    assert not (tmp_path / "tolist.onnx").exists()


def test_intensity_is_a_second_named_output(tmp_path):
    ckpt = _probe_checkpoint(tmp_path, "ExportProbeIntensity")
    result = export_onnx(ckpt, tmp_path / "intensity.onnx")
    assert result.metadata.outputs == ("logits", "intensity")
    assert [o.name for o in onnx.load(str(result.path)).graph.output] == ["logits", "intensity"]
    session = OnnxInference(result.path, device="cpu")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    points = rng.uniform(0, 31, (3, 66, 2)).astype(np.float32)
    got = session.outputs(frames, points)
    net = auzoo.build_model(Config(dict(model=dict(type="ExportProbeIntensity"))))
    net.load_state_dict(torch.load(ckpt, weights_only=True)["state_dict"])
    with torch.no_grad():
        want = net(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255,
                   torch.from_numpy(points))
    for name in ("logits", "intensity"):
        np.testing.assert_allclose(got[name], want[name].numpy(), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="needs landmarks"):
        session(frames)


def test_unknown_outputs_are_refused_by_name(tmp_path):
    ckpt = _probe_checkpoint(tmp_path, "ExportProbeOddOutput")
    with pytest.raises(ExportError, match=r"returns outputs \['logits', 'heatmaps'\]"):
        export_onnx(ckpt, tmp_path / "odd.onnx")
