"""onnxruntime against PyTorch, for every built-in model and each plugin model.

Each model is exported from a checkpoint (random weights, random BatchNorm
statistics) at 64 px, then the two backends ``auzoo predict`` uses score the
same uint8 faces: probabilities agree within 1e-4. To keep the suite fast,
only TRA-Net (SENet-50), JAA-Lite (timm's ResNet-50 to layer3), DRML and JAA-Net
run their full networks; the other built-in models run timm's tiny
``test_resnet`` under their own neck, splitter, attention and heads, and
ME-GraphAU its graphs at 64 channels on a tiny ResNet and a one-block-a-stage Swin.
"""
from __future__ import annotations

import numpy as np
import pytest

from auzoo import registry
from auzoo.data.align import landmarks68_to_66
from auzoo.data.mean_face import MEAN_FACE_68
from auzoo.export import PARITY_ATOL, export_onnx, read_metadata
from auzoo.inference.backends import open_backend

from .conftest import model_config, write_checkpoint

# Swin as ME-GraphAU-Swin-B uses it (windows, NHWC maps, the final norm), one block a stage.
SMALL_SWIN = {"backbone.model_name": "swin_tiny_patch4_window7_224", "backbone.img_size": 64,
              "backbone.embed_dim": 32, "backbone.depths": (1, 1, 1, 1),
              "backbone.num_heads": (1, 2, 4, 8), "channels": 64}
IMG = 64
TINY_VIT = {"backbone.img_size": 64, "backbone.embed_dim": 192, "backbone.depth": 4,
            "backbone.num_heads": 3}

# name: (options of model_config, the plugin package or None)
CASES = {
    "tranet": ({}, None),
    "tranet_no_channel": (dict(tiny_backbone=True), None),
    "tranet_no_spatial": (dict(tiny_backbone=True), None),
    "tranet_residual": (dict(tiny_backbone=True), None),
    "senet50": (dict(tiny_backbone=True), None),
    "senet50_cbam": (dict(tiny_backbone=True), None),
    "senet50_decoder": (dict(tiny_backbone=True), None),
    "senet50_hm": (dict(tiny_backbone=True), None),
    "resnet50": (dict(tiny_backbone=True), None),
    "drml": ({}, "auzoo_drml"),
    "jaa_lite": ({}, "auzoo_jaa_lite"),  # timm's ResNet-50 up to layer3
    "jaanet": ({}, "auzoo_jaanet"),
    # ME-GraphAU's graphs at 64 channels: the k-NN graph (top-k), and MEFL
    "megraphau_r50_stage1": (dict(tiny_backbone=True, channels=64), "auzoo_megraphau"),
    "megraphau_r50": (dict(tiny_backbone=True, channels=64), "auzoo_megraphau"),
    "megraphau_swinb": (SMALL_SWIN, "auzoo_megraphau"),
    # intensity: the heads' readings as a graph output of their own
    "tranet_intensity": (dict(tiny_backbone=True), None),
    "resnet50_intensity": (dict(tiny_backbone=True), None),
    "megraphau_r50_intensity": (dict(tiny_backbone=True, channels=64), "auzoo_megraphau"),
    # FMAE's ViT (the demo's size: width 192, 4 blocks) with its AU head; the identity
    # head is a training-only branch (logits come from the AU head alone)
    "fmae_vitb": (TINY_VIT, "auzoo_fmae"),
    "fmae_iat_vitb": (dict(TINY_VIT, train_subjects=("SN001", "SN002", "SN003")), "auzoo_fmae"),
}
# Registered models whose every part a case above exports.
COVERED_BY = {"megraphau_swinb_stage1": ("megraphau_r50_stage1", "megraphau_swinb"),
              "jaanet_scratch": ("jaanet",),             # the same network, another start
              "fmae_vitl": ("fmae_vitb",), "fmae_iat_vitl": ("fmae_iat_vitb",)}  # ViT-L: more blocks
THIS_REPOSITORY = {registry.BUILTIN, "drml", "jaa_lite", "jaanet", "megraphau", "fmae"}


def test_every_model_of_the_zoo_has_a_parity_case():
    registry.ensure_loaded()
    ours = {name for name, prov in registry.CONFIG_PROVIDERS.items()
            if prov.name == registry.BUILTIN or prov.name.split()[1] in THIS_REPOSITORY}
    assert ours - set(CASES) - set(COVERED_BY) == set()


def faces(n: int, seed: int = 0):
    """uint8 faces (N, S, S, 3) and face-shaped 66-point landmarks in their pixels."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (n, IMG, IMG, 3), dtype=np.uint8)
    mean = landmarks68_to_66(MEAN_FACE_68) / MEAN_FACE_68.max()
    points = (0.1 + 0.8 * mean) * (IMG - 1) + rng.normal(0, 0.5, (n, 66, 2))
    return frames, points.astype(np.float32)


@pytest.mark.parametrize("name", sorted(CASES))
def test_onnxruntime_scores_faces_as_torch_does(name, tmp_path):
    options, plugin = CASES[name]
    if plugin:
        pytest.importorskip(plugin)
    cfg = model_config(name, IMG, **{k: v for k, v in options.items()})
    ckpt = write_checkpoint(tmp_path / f"{name}.pth", cfg, name)
    result = export_onnx(ckpt, tmp_path / f"{name}.onnx")
    assert result.max_prob_diff <= PARITY_ATOL

    torch_side = open_backend(ckpt, device="cpu")
    onnx_side = open_backend(result.path, device="cpu")
    meta = read_metadata(result.path)
    assert (meta.model, meta.aus, meta.img_size) == (name, torch_side.aus, IMG)
    assert meta.requires_landmarks == bool(getattr(torch_side.model, "requires_landmarks", False))
    assert onnx_side.runtime == "onnxruntime (CPUExecutionProvider)"

    assert onnx_side.task == torch_side.task
    frames, points = faces(5)
    if torch_side.task != "intensity":
        expected = torch_side.inference.probabilities(frames, points)
        got = onnx_side.inference.probabilities(frames, points)
        assert got.shape == expected.shape == (5, len(meta.aus))
        np.testing.assert_allclose(got, expected, rtol=0, atol=PARITY_ATOL)
        # one face at a time: the batch axis is dynamic
        np.testing.assert_allclose(onnx_side.inference.probabilities(frames[:1], points[:1]),
                                   expected[:1], rtol=0, atol=PARITY_ATOL)
    # The logits (and intensities) too, tighter than the faces differ (random
    # weights tell the faces apart by little: JAA-Net's logits spread by ~1e-3).
    output = torch_side.inference(frames, points).numpy()
    assert np.ptp(output, axis=0).max() > 1e-4
    atol = 1e-5 if torch_side.task == "occurrence" else 5e-5   # intensities run 0-5
    np.testing.assert_allclose(onnx_side.inference(frames, points).numpy(), output,
                               rtol=1e-4, atol=atol)
    np.testing.assert_allclose(onnx_side.inference(frames[:1], points[:1]).numpy(), output[:1],
                               rtol=1e-4, atol=atol)
