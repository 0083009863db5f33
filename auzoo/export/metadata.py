"""What an exported ONNX file says about itself: everything ``auzoo predict`` needs.

The graph takes the model's input after its test pipeline and returns named
outputs; the file's ``metadata_props`` (string keys, string values; JSON where
a value is not a plain string) say which AUs, at which size, with or without
landmarks, aligned how, and where the weights came from, so that::

    auzoo predict clip.mp4 --weights tranet.onnx

needs no config and no ``--model``. The keys (:data:`KEYS`):

==================== ==========================================================
format               ``auzoo-onnx``; ``format_version`` an integer
model                the model's name (``tranet``, ``megraphau_r50`` …)
aus                  JSON list: the AU of each output column, in order
img_size             the square input side S in pixels
input                JSON: per graph input its shape, dtype, layout and meaning
requires_landmarks   ``true`` / ``false``: whether the graph has ``landmarks``
outputs              JSON: per graph output, in order, its shape and meaning
alignment            JSON: the face-alignment step of the test pipeline
test_pipeline        JSON list: the model's test pipeline (transform configs)
precision            ``fp32``: the graph's dtype
checkpoint           JSON: source file name, its SHA-256, and its provenance
checkpoint_sha256    the source checkpoint's SHA-256 (also inside ``checkpoint``)
config               the model's resolved config (mmengine Python text)
versions             JSON: auzoo, torch, onnx, onnxscript, onnxruntime, python
opset                the ONNX opset of the default domain
==================== ==========================================================

The inputs are ``images`` (N, 3, S, S) float32 RGB in [0, 1] and, for a model
with ``requires_landmarks``, ``landmarks`` (N, 66, 2) float32, the DISFA
66-point scheme in pixels of ``images`` (pixel centres on integers). The
outputs are named after what they hold: ``logits`` (N, n_AU), whose sigmoid is
the probability of each AU, then ``intensity`` (N, n_AU, 0–5) for a model that
also estimates intensity (:data:`OUTPUT_NAMES`, in this order); an intensity
model has ``intensity`` alone.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

FORMAT = "auzoo-onnx"
FORMAT_VERSION = 1
DEFAULT_OPSET = 18  # the dynamo exporter's own; onnxruntime >= 1.14 runs it

IMAGES, LANDMARKS = "images", "landmarks"
# Every output a model may have, in graph order; each present one keeps its name.
OUTPUT_NAMES = ("logits", "intensity")
OUTPUT_MEANING = {
    "logits": "per-AU occurrence logits in the order of `aus`; probability = sigmoid(logit)",
    "intensity": "per-AU intensity in the order of `aus`, on the 0-5 FACS scale",
}

KEYS = ("format", "format_version", "model", "aus", "img_size", "input", "requires_landmarks",
        "outputs", "alignment", "test_pipeline", "precision", "checkpoint", "checkpoint_sha256",
        "config", "versions", "opset")
_REQUIRED = ("format", "format_version", "model", "aus", "img_size", "requires_landmarks", "outputs")


class OnnxFileError(ValueError):
    """An ONNX file ``auzoo predict`` cannot use; the message names the file."""


class ExportExtraMissing(ImportError, ValueError):
    """A package of the ``export`` extra is not installed (a ValueError too, so
    the command line prints the message, not a traceback)."""


def require_export_packages(*modules: str) -> None:
    """Import ``modules`` (default: every package of the ``export`` extra) or
    say how to install them."""
    import importlib

    missing = []
    for name in modules or ("onnx", "onnxscript", "onnxruntime"):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ExportExtraMissing(f"{', '.join(missing)} not installed: ONNX export and "
                                 "onnxruntime prediction need auzoo's export extra "
                                 "(pip install 'auzoo[export]', or -e '.[export]' in a checkout)")


def input_description(img_size: int, requires_landmarks: bool) -> Dict[str, Any]:
    described = {IMAGES: dict(shape=["batch", 3, img_size, img_size], dtype="float32",
                              layout="NCHW", color="RGB", range=[0.0, 1.0],
                              what="aligned faces after the model's test pipeline")}
    if requires_landmarks:
        described[LANDMARKS] = dict(shape=["batch", 66, 2], dtype="float32",
                                    what="DISFA 66-point landmarks (x, y) in pixels of `images`, "
                                         "pixel centres on integers")
    return described


def output_description(names, num_aus: int) -> Dict[str, Any]:
    return {name: dict(shape=["batch", num_aus], dtype="float32", what=OUTPUT_MEANING[name])
            for name in names}


def alignment_step(test_pipeline) -> Optional[Dict[str, Any]]:
    """The pipeline's face-alignment step (the first ``Align…`` transform), if any."""
    for step in test_pipeline or ():
        if isinstance(step, Mapping) and str(step.get("type", "")).startswith("Align"):
            return dict(step)
    return None


@dataclass
class OnnxMetadata:
    """The metadata of an exported file, typed (see the module doc for each key)."""

    model: str
    aus: Tuple[int, ...]
    img_size: int
    requires_landmarks: bool
    outputs: Tuple[str, ...] = ("logits",)
    test_pipeline: List[Dict[str, Any]] = field(default_factory=list)
    checkpoint: Dict[str, Any] = field(default_factory=dict)
    config: str = ""
    versions: Dict[str, str] = field(default_factory=dict)
    opset: Optional[int] = None
    precision: str = "fp32"

    @property
    def input_names(self) -> Tuple[str, ...]:
        return (IMAGES, LANDMARKS) if self.requires_landmarks else (IMAGES,)

    @property
    def checkpoint_sha256(self) -> Optional[str]:
        return self.checkpoint.get("sha256")

    def to_props(self) -> Dict[str, str]:
        """``metadata_props`` of the ONNX file: every value a string."""
        return {
            "format": FORMAT,
            "format_version": str(FORMAT_VERSION),
            "model": self.model,
            "aus": json.dumps([int(a) for a in self.aus]),
            "img_size": str(int(self.img_size)),
            "input": json.dumps(input_description(self.img_size, self.requires_landmarks)),
            "requires_landmarks": "true" if self.requires_landmarks else "false",
            "outputs": json.dumps(output_description(self.outputs, len(self.aus))),
            "alignment": json.dumps(alignment_step(self.test_pipeline)),
            "test_pipeline": json.dumps(self.test_pipeline),
            "precision": self.precision,
            "checkpoint": json.dumps(self.checkpoint),
            "checkpoint_sha256": str(self.checkpoint.get("sha256", "")),
            "config": self.config,
            "versions": json.dumps(self.versions),
            "opset": "" if self.opset is None else str(int(self.opset)),
        }

    @classmethod
    def from_props(cls, props: Mapping[str, str], path) -> "OnnxMetadata":
        """Read ``metadata_props``; a missing or malformed key is an error naming
        the file and the key."""
        if props.get("format") != FORMAT:
            raise OnnxFileError(
                f"{path}: not an ONNX file written by `auzoo export` (its metadata has no "
                f"format '{FORMAT}'); export a checkpoint with `auzoo export --weights CKPT "
                "--out FILE.onnx`")
        missing = [k for k in _REQUIRED if k not in props]
        if missing:
            raise OnnxFileError(f"{path}: metadata lacks {', '.join(missing)}")
        version = _parse(props, "format_version", int, path)
        if version > FORMAT_VERSION:
            raise OnnxFileError(f"{path}: written by a newer auzoo (format version {version} > "
                                f"{FORMAT_VERSION})")
        aus = tuple(int(a) for a in _parse(props, "aus", json.loads, path))
        outputs = tuple(_parse(props, "outputs", json.loads, path))
        unknown = [o for o in outputs if o not in OUTPUT_NAMES]
        if unknown or not outputs or list(outputs) != [o for o in OUTPUT_NAMES if o in outputs]:
            raise OnnxFileError(f"{path}: metadata key 'outputs' names {list(outputs)}; auzoo "
                                f"reads {list(OUTPUT_NAMES)}, in that order")
        flag = props["requires_landmarks"]
        if flag not in ("true", "false"):
            raise OnnxFileError(f"{path}: metadata key 'requires_landmarks' is {flag!r}, "
                                "not 'true' or 'false'")
        opset = props.get("opset")
        return cls(
            model=props["model"], aus=aus, img_size=_parse(props, "img_size", int, path),
            requires_landmarks=flag == "true", outputs=outputs,
            test_pipeline=_parse(props, "test_pipeline", json.loads, path, default=[]),
            checkpoint=_parse(props, "checkpoint", json.loads, path, default={}),
            config=props.get("config", ""),
            versions=_parse(props, "versions", json.loads, path, default={}),
            opset=int(opset) if opset else None, precision=props.get("precision", "fp32"))


def _parse(props: Mapping[str, str], key: str, parse, path, default=None):
    if key not in props:
        return default
    try:
        return parse(props[key])
    except (TypeError, ValueError) as exc:
        raise OnnxFileError(f"{path}: metadata key '{key}' is malformed ({exc})") from None


def read_metadata(path) -> OnnxMetadata:
    """The auzoo metadata of an exported ``.onnx`` file (read with ``onnx``,
    without building an onnxruntime session)."""
    require_export_packages("onnx")
    import onnx

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and onnx's own errors
        raise OnnxFileError(f"{path}: not a readable ONNX model ({_first_line(exc)})") from None
    return OnnxMetadata.from_props({p.key: p.value for p in model.metadata_props}, path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["DEFAULT_OPSET", "FORMAT", "FORMAT_VERSION", "IMAGES", "KEYS", "LANDMARKS",
           "OUTPUT_NAMES", "ExportExtraMissing", "OnnxFileError", "OnnxMetadata", "alignment_step",
           "read_metadata", "require_export_packages"]
