"""A model as an ONNX graph, through ``torch.export`` (torch.onnx's dynamo exporter).

The graph is traced from the model's own ``forward`` on example inputs, with
the batch axis symbolic: nothing in an auzoo model depends on the batch size,
and a model whose Python does (a branch on a tensor's value, a loop over the
batch) fails here with the line that does it, rather than exporting a graph
that is only right for one batch.

What the exporter cannot translate is reported as an :class:`ExportError`
naming the operation (an ``aten`` operator without an ONNX function, or the
source line of data-dependent Python) and why. Values computed outside torch
(numpy, ``.item()``, Python numbers) are a different failure: they are traced
as constants, and only running the graph shows it; :mod:`auzoo.export.exporter`
checks every graph against the model on fresh inputs before writing it.
"""
from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from auzoo.engine.inference import model_logits
from auzoo.export.metadata import DEFAULT_OPSET, IMAGES, LANDMARKS, OUTPUT_NAMES


class ExportError(ValueError):
    """A model that cannot be exported (or whose graph does not compute what the
    model does); the message names the model, the operation and why."""


def named_outputs(model: nn.Module, images: Tensor, landmarks: Optional[Tensor] = None
                  ) -> Dict[str, Tensor]:
    """The model's outputs by name, in :data:`OUTPUT_NAMES` order.

    A model returns one tensor, read by its task (:mod:`auzoo.models.tasks`:
    logits, intensities, or both side by side), or a mapping holding
    ``logits`` and any other output auzoo knows (``intensity``); other keys
    are an error naming them.
    """
    out = model_logits(model, images, landmarks)
    if not isinstance(out, Mapping):
        from auzoo.models.tasks import model_task, split_output

        logits, intensity = split_output(out, model_task(model), len(model.aus))
        return {k: v for k, v in (("logits", logits), ("intensity", intensity)) if v is not None}
    unknown = [k for k in out if k not in OUTPUT_NAMES]
    if unknown or "logits" not in out:
        raise ExportError(f"model '{model_label(model)}' returns outputs {list(out)}; an exported "
                          f"graph holds {list(OUTPUT_NAMES)}, 'logits' always")
    return {k: out[k] for k in OUTPUT_NAMES if k in out}


class OnnxGraph(nn.Module):
    """What the graph computes: the model's named outputs as a tuple.

    The model sits one level down (``model.``), and the graph takes exactly the
    inputs the model needs. Both matter to ``torch.export``: it traces a fixed
    signature, and its graph module has a ``graph`` attribute of its own, which a
    top-level submodule of that name (ME-GraphAU's) would shadow.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model


class ImagesGraph(OnnxGraph):
    def forward(self, images: Tensor) -> Tuple[Tensor, ...]:
        return tuple(named_outputs(self.model, images).values())


class ImagesLandmarksGraph(OnnxGraph):
    def forward(self, images: Tensor, landmarks: Tensor) -> Tuple[Tensor, ...]:
        return tuple(named_outputs(self.model, images, landmarks).values())


def model_label(model: nn.Module) -> str:
    return str(getattr(model, "name", None) or type(model).__name__)


def example_inputs(img_size: int, requires_landmarks: bool, batch: int = 2,
                   seed: int = 0) -> Tuple[Tensor, ...]:
    """Random images in [0, 1] and, where needed, face-shaped landmarks: the mean
    face on 80% of the image, jittered (where landmarks lie matters to models
    that place attention around them)."""
    from auzoo.data.align import landmarks68_to_66
    from auzoo.data.mean_face import MEAN_FACE_68

    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, img_size, img_size, generator=gen)
    if not requires_landmarks:
        return (images,)
    face = torch.as_tensor(landmarks68_to_66(MEAN_FACE_68), dtype=torch.float32)
    face = (0.1 + 0.8 * face / float(np.max(MEAN_FACE_68))) * (img_size - 1)
    jitter = torch.randn(batch, 66, 2, generator=gen) * (0.01 * img_size)
    return images, face.expand(batch, 66, 2) + jitter


def graph_module(model: nn.Module) -> OnnxGraph:
    graph = ImagesLandmarksGraph(model) if getattr(model, "requires_landmarks", False) \
        else ImagesGraph(model)
    return graph.eval()


def export_graph(model: nn.Module, img_size: int, opset: int = DEFAULT_OPSET):
    """``(program, output_names)``: the model's ONNX program (``torch.onnx.ONNXProgram``)
    with a dynamic batch axis, and the names of its outputs."""
    model = model.eval()
    graph = graph_module(model)
    inputs = example_inputs(img_size, isinstance(graph, ImagesLandmarksGraph))
    input_names = [IMAGES, LANDMARKS][:len(inputs)]
    try:
        with torch.no_grad():
            outputs = list(named_outputs(model, *inputs))
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(f"model '{model_label(model)}' does not run on {img_size} px inputs: "
                          f"{_first_line(exc)}") from exc
    batch = torch.export.Dim("batch", min=1)
    try:
        # The exporter prints its progress, and warns that the inputs share one
        # batch axis (which is the point).
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.filterwarnings("ignore", message=".*axis name")
            program = torch.onnx.export(
                graph, inputs, input_names=input_names, output_names=outputs,
                opset_version=opset, dynamo=True, verbose=False,
                dynamic_shapes={name: {0: batch} for name in input_names})
    except Exception as exc:
        operation, why = describe_failure(exc)
        raise ExportError(f"cannot export model '{model_label(model)}' to ONNX: {operation}: "
                          f"{why} (see docs/export.md)") from exc
    return program, outputs


# ---------------------------------------------------------------- failures

_NODE = re.compile(r"Error when translating node %\S+ : .*?target=(?:torch\.ops\.)?([\w.]+)")
_OP = re.compile(r"OpOverload\(op='([\w.]+)'")
_CALL = re.compile(r'File "([^"]+)", line (\d+), in \w+\n\s*(.+)')


def _chain(exc: BaseException) -> List[BaseException]:
    seen: List[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def describe_failure(exc: BaseException) -> Tuple[str, str]:
    """``(operation, why)`` from the exporter's exception chain."""
    chain = _chain(exc)
    texts = [str(e) for e in chain]
    root = chain[-1]
    for text in texts:  # an operator without an ONNX translation
        match = _NODE.search(text) or _OP.search(text)
        if match:
            op = re.sub(r"\.default$", "", match.group(1))
            return f"operation {op}", _first_line(root)
    for text in texts:  # torch.export stopped at a line of the model's Python
        match = _CALL.search(text)
        if match:
            path, line, code = match.groups()
            return f"`{code.strip()}` ({path}:{line})", _first_line(root)
    frame = _model_frame(chain)
    if frame is not None:
        return f"`{frame.line}` ({frame.filename}:{frame.lineno})", _first_line(root)
    return f"operation unknown ({type(exc).__name__})", _first_line(root)


def _model_frame(chain: List[BaseException]):
    """The deepest frame of the failure in the model's own code: outside torch,
    the ONNX packages, numpy and this module."""
    import traceback

    skip = [str(Path(m.__file__).parent) for m in _library_modules()] + [__file__]
    for exc in reversed(chain):
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if not any(f.filename.startswith(s) for s in skip) and f.line]
        if frames:
            return frames[-1]
    return None


def _library_modules():
    import importlib

    for name in ("torch", "onnxscript", "onnx", "numpy"):
        try:
            yield importlib.import_module(name)
        except ImportError:
            continue


__all__ = ["DEFAULT_OPSET", "ExportError", "ImagesGraph", "ImagesLandmarksGraph", "OnnxGraph",
           "describe_failure", "example_inputs", "export_graph", "graph_module", "named_outputs"]
