"""``auzoo export``: a trained checkpoint -> one self-describing ``.onnx`` file.

The file is written only after onnxruntime has run it on fresh random inputs
(another batch size than the one traced) and its probabilities agree with the
PyTorch model's within :data:`PARITY_ATOL`; so a graph that is right for one
batch size only, or that froze a value the model computes in Python, is
refused rather than shipped.
"""
from __future__ import annotations

import hashlib
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Union

import torch

from auzoo.export.graph import DEFAULT_OPSET, ExportError, example_inputs, export_graph, model_label
from auzoo.export.metadata import OnnxMetadata, require_export_packages

PathLike = Union[str, Path]
PARITY_ATOL = 1e-4  # largest |p_onnx - p_torch| accepted, on probabilities
CHECK_BATCH = 3     # the check runs another batch size than the traced one (2)


@dataclass
class ExportResult:
    path: Path
    metadata: OnnxMetadata
    max_prob_diff: float   # onnxruntime vs torch on the check batch
    seconds: float


def sha256_file(path: PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def default_test_pipeline(img_size: int) -> list:
    """What ``auzoo predict`` does to a face when the config names no test pipeline:
    TRA-Net's midline alignment straight to the input size."""
    return [dict(type="AlignMidline", size=int(img_size))]


def export_versions(opset: int) -> Dict[str, str]:
    import onnx
    import onnxruntime
    import onnxscript

    import auzoo

    return {"auzoo": auzoo.__version__, "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxscript": onnxscript.__version__, "onnxruntime": onnxruntime.__version__,
            "opset": str(opset), "python": platform.python_version()}


def build_metadata(net, weights: Path, img_size: int, opset: int, outputs) -> OnnxMetadata:
    from auzoo.engine.checkpoint import plain

    meta = dict(getattr(net, "checkpoint_meta", {}) or {})
    config = meta.pop("config", "") or ""
    for key in ("format", "format_version"):
        meta.pop(key, None)
    cfg = getattr(net, "cfg", None)
    pipeline = cfg.get("test_pipeline") if cfg is not None else None
    pipeline = plain(list(pipeline)) if pipeline else default_test_pipeline(img_size)
    return OnnxMetadata(
        model=model_label(net), aus=tuple(int(a) for a in net.aus), img_size=int(img_size),
        requires_landmarks=bool(getattr(net, "requires_landmarks", False)),
        outputs=tuple(outputs), test_pipeline=pipeline,
        checkpoint=dict(file=weights.name, sha256=sha256_file(weights),
                        bytes=weights.stat().st_size, meta=plain(meta)),
        config=config, versions=export_versions(opset), opset=opset)


def check_parity(net, proto_bytes: bytes, img_size: int, requires_landmarks: bool) -> float:
    """Largest |probability difference| between onnxruntime and the model on a
    fresh batch of :data:`CHECK_BATCH` (another seed and size than the traced one)."""
    import numpy as np
    import onnxruntime as ort

    from auzoo.export.graph import named_outputs
    from auzoo.export.metadata import IMAGES, LANDMARKS

    session = ort.InferenceSession(proto_bytes, providers=["CPUExecutionProvider"])
    inputs = example_inputs(img_size, requires_landmarks, batch=CHECK_BATCH, seed=1)
    feeds = dict(zip((IMAGES, LANDMARKS), (x.numpy() for x in inputs)))
    with torch.no_grad():
        expected = torch.sigmoid(named_outputs(net, *inputs)["logits"].float())
    try:
        got = torch.sigmoid(torch.from_numpy(session.run(["logits"], feeds)[0]))
    except Exception as exc:  # onnxruntime's own exception types
        shapes = {i.name: i.shape for i in session.get_inputs()}
        raise ExportError(
            f"model '{model_label(net)}': the graph does not run on a batch of {CHECK_BATCH} "
            f"(its inputs: {shapes}; {str(exc).strip().splitlines()[0]}): the model fixed the "
            "batch size, e.g. through .tolist() or a Python loop over the batch "
            "(see docs/export.md)") from None
    if got.shape != expected.shape:
        raise ExportError(f"model '{model_label(net)}': the graph returns logits of shape "
                          f"{tuple(got.shape)} on a batch of {CHECK_BATCH}, the model "
                          f"{tuple(expected.shape)}")
    return float(np.abs((got - expected).numpy()).max())


def export_onnx(weights: PathLike, out: PathLike, model=None, img_size: Optional[int] = None,
                opset: int = DEFAULT_OPSET, overwrite: bool = False,
                atol: float = PARITY_ATOL) -> ExportResult:
    """Export an ``auzoo train`` checkpoint to ``out`` (a ``.onnx`` file).

    Args:
        weights: the checkpoint.
        out: the ONNX file to write (replaced only with ``overwrite``).
        model: model name or config (default: the checkpoint's own config).
        img_size: the graph's input side (default: the checkpoint's image size).
        opset: ONNX opset of the default domain.
        atol: largest accepted probability difference, onnxruntime vs PyTorch.
    """
    from auzoo.engine.checkpoint import build_from_checkpoint
    from auzoo.utils.io import atomic_write

    require_export_packages()
    start = time.perf_counter()
    weights, out = Path(weights), Path(out)
    if out.suffix.lower() != ".onnx":
        raise ValueError(f"{out}: the output file's name must end in .onnx")
    if out.exists() and not overwrite:
        raise ValueError(f"{out} exists; pass --force (overwrite=True) to replace it")
    net = build_from_checkpoint(weights, model=model).float().eval()
    meta = getattr(net, "checkpoint_meta", {}) or {}
    cfg = getattr(net, "cfg", None)
    size = int(img_size or meta.get("img_size") or (cfg.get("img_size") if cfg is not None
                                                     else None) or 224)
    program, outputs = export_graph(net, size, opset)
    metadata = build_metadata(net, weights, size, opset, outputs)
    proto = program.model_proto
    proto.doc_string = (f"auzoo {metadata.model}: AU logits (sigmoid = probability) for AUs "
                        f"{', '.join(map(str, metadata.aus))}; metadata_props describe the input")
    for key, value in metadata.to_props().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    data = proto.SerializeToString()
    diff = check_parity(net, data, size, metadata.requires_landmarks)
    if not diff <= atol:
        raise ExportError(
            f"model '{metadata.model}': onnxruntime's probabilities differ from PyTorch's by "
            f"{diff:.3g} (> {atol:g}) on a fresh batch of {CHECK_BATCH}: the graph does not compute "
            "what the model does, e.g. a value computed outside torch was traced as a constant "
            f"(see docs/export.md); {out} was not written")
    atomic_write(out, lambda tmp: Path(tmp).write_bytes(data))
    return ExportResult(out, metadata, diff, time.perf_counter() - start)


def export_cli(args) -> int:
    """``auzoo export`` once its arguments are parsed."""
    from rich.console import Console

    result = export_onnx(args.weights, args.out, model=args.model, img_size=args.img_size,
                         opset=args.opset, overwrite=args.force)
    m = result.metadata
    inputs = "images (N, 3, {0}, {0})".format(m.img_size) + \
        (" + landmarks (N, 66, 2)" if m.requires_landmarks else "")
    Console(stderr=True).print(
        f"wrote {result.path} ({result.path.stat().st_size / 1e6:.1f} MB): {m.model}, AUs "
        f"{', '.join(map(str, m.aus))}; {inputs} -> {', '.join(m.outputs)}; opset {m.opset}; "
        f"onnxruntime agrees with PyTorch within {result.max_prob_diff:.1e} (probabilities); "
        f"{result.seconds:.1f} s", soft_wrap=True, highlight=False)
    return 0


__all__ = ["CHECK_BATCH", "ExportResult", "PARITY_ATOL", "build_metadata", "check_parity",
           "default_test_pipeline", "export_cli", "export_onnx", "sha256_file"]
