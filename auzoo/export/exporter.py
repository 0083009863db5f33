"""``auzoo export``: a trained checkpoint -> one self-describing ``.onnx`` file.

The file is written only after onnxruntime has run it on fresh random inputs
(another batch size than the one traced) and its probabilities agree with the
PyTorch model's within :data:`PARITY_ATOL`; so a graph that is right for one
batch size only, or that froze a value the model computes in Python, is
refused rather than shipped.
"""
from __future__ import annotations

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


def export_versions(opset: int) -> Dict[str, str]:
    import onnx
    import onnxruntime
    import onnxscript

    import auzoo

    return {"auzoo": auzoo.__version__, "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxscript": onnxscript.__version__, "onnxruntime": onnxruntime.__version__,
            "opset": str(opset), "python": platform.python_version()}


def source_record(meta: Dict) -> Dict:
    """The weights a model was loaded from (``loaded_from``): files with their
    SHA-256 and size; ``sha256`` is the file's, or the files' joined by commas."""
    files = [dict(file=Path(f["file"]).name, sha256=f["sha256"],
                  bytes=Path(f["file"]).stat().st_size if Path(f["file"]).is_file() else None)
             for f in (meta.get("loaded_from") or {}).get("files", [])]
    return dict(file=", ".join(f["file"] for f in files),
                sha256=",".join(f["sha256"] for f in files), files=files,
                format=(meta.get("loaded_from") or {}).get("format"))


def build_metadata(net, img_size: int, opset: int, outputs) -> OnnxMetadata:
    from auzoo.data.transforms import pipeline_steps
    from auzoo.engine.checkpoint import plain

    meta = dict(getattr(net, "checkpoint_meta", {}) or {})
    config = meta.pop("config", "") or ""
    for key in ("format", "format_version"):
        meta.pop(key, None)
    return OnnxMetadata(
        model=model_label(net), aus=tuple(int(a) for a in net.aus), img_size=int(img_size),
        requires_landmarks=bool(getattr(net, "requires_landmarks", False)),
        outputs=tuple(outputs),
        test_pipeline=plain(pipeline_steps(getattr(net, "cfg", None), "test")),
        checkpoint=dict(source_record(meta), meta=plain(meta)),
        config=config, versions=export_versions(opset), opset=opset)


def check_parity(net, proto_bytes: bytes, img_size: int, requires_landmarks: bool) -> float:
    """Largest difference between onnxruntime and the model on a fresh batch of
    :data:`CHECK_BATCH` (another seed and size than the traced one): of the
    probabilities, and of intensities / 5 where the model has them."""
    import numpy as np
    import onnxruntime as ort

    from auzoo.export.graph import named_outputs
    from auzoo.export.metadata import IMAGES, LANDMARKS

    session = ort.InferenceSession(proto_bytes, providers=["CPUExecutionProvider"])
    inputs = example_inputs(img_size, requires_landmarks, batch=CHECK_BATCH, seed=1)
    feeds = dict(zip((IMAGES, LANDMARKS), (x.numpy() for x in inputs)))
    with torch.no_grad():
        expected = {k: v.float() for k, v in named_outputs(net, *inputs).items()}
    try:
        got = dict(zip(expected, (torch.from_numpy(o) for o in session.run(list(expected), feeds))))
    except Exception as exc:  # onnxruntime's own exception types
        shapes = {i.name: i.shape for i in session.get_inputs()}
        raise ExportError(
            f"model '{model_label(net)}': the graph does not run on a batch of {CHECK_BATCH} "
            f"(its inputs: {shapes}; {str(exc).strip().splitlines()[0]}): the model fixed the "
            "batch size, e.g. through .tolist() or a Python loop over the batch "
            "(see docs/export.md)") from None
    worst = 0.0
    for name, want in expected.items():
        if got[name].shape != want.shape:
            raise ExportError(f"model '{model_label(net)}': the graph returns {name} of shape "
                              f"{tuple(got[name].shape)} on a batch of {CHECK_BATCH}, the model "
                              f"{tuple(want.shape)}")
        read = torch.sigmoid if name == "logits" else (lambda x: x / 5.0)
        worst = max(worst, float(np.abs((read(got[name]) - read(want)).numpy()).max()))
    return worst


def export_onnx(weights, out: PathLike, model=None, img_size: Optional[int] = None,
                opset: int = DEFAULT_OPSET, overwrite: bool = False,
                atol: float = PARITY_ATOL, cfg_options: Optional[dict] = None) -> ExportResult:
    """Export weights to ``out`` (a ``.onnx`` file).

    Args:
        weights: an ``auzoo train`` checkpoint; or, with ``model`` named, that
            model's official weights (a file, a folder or a list of files), as
            ``auzoo predict`` takes them.
        out: the ONNX file to write (replaced only with ``overwrite``).
        model: model name or config (default: the checkpoint's own config).
        img_size: the graph's input side (default: the checkpoint's image size).
        opset: ONNX opset of the default domain.
        atol: largest accepted probability difference, onnxruntime vs PyTorch.
        cfg_options: changes to the named ``model``'s config (dotted keys).
    """
    from auzoo.inference.backends import load_model
    from auzoo.utils.io import atomic_write

    require_export_packages()
    start = time.perf_counter()
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise ValueError(f"{out}: the output file's name must end in .onnx")
    if out.exists() and not overwrite:
        raise ValueError(f"{out} exists; pass --force (overwrite=True) to replace it")
    net, trained_size = load_model(weights, model, "cpu", cfg_options)
    net = net.float().eval()
    size = int(img_size or trained_size)
    program, outputs = export_graph(net, size, opset)
    metadata = build_metadata(net, size, opset, outputs)
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
                         opset=args.opset, overwrite=args.force,
                         cfg_options=getattr(args, "cfg_options", None) or None)
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
           "export_cli", "export_onnx", "source_record"]
