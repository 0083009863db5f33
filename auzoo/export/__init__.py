"""Trained checkpoints as ONNX files that carry what prediction needs.

    auzoo export --weights work/tranet/fold1/best.pth --out tranet.onnx
    auzoo predict clip.mp4 --weights tranet.onnx

:func:`export_onnx` writes the graph (:mod:`auzoo.export.graph`) with its
metadata (:mod:`auzoo.export.metadata`); ``auzoo predict`` runs the file
through onnxruntime (:mod:`auzoo.inference.backends`). Needs the ``export``
extra: ``pip install -e .[export]``.
"""
from __future__ import annotations

import importlib

# Imported on first use: the command line reads the defaults without torch.
_WHERE = {
    "export_onnx": "exporter", "export_cli": "exporter", "ExportResult": "exporter",
    "PARITY_ATOL": "exporter", "ExportError": "graph", "DEFAULT_OPSET": "metadata",
    "OnnxFileError": "metadata", "OnnxMetadata": "metadata", "read_metadata": "metadata",
}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'auzoo.export' has no attribute {name!r}")
    return getattr(importlib.import_module(f"auzoo.export.{_WHERE[name]}"), name)


__all__ = sorted(_WHERE)
