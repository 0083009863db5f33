"""What ``auzoo predict`` runs faces through: a PyTorch checkpoint or an ONNX file.

Both backends turn the same aligned uint8 faces into the same model input
(:func:`auzoo.data.model_input.model_input`, landmarks rescaled with the
faces) and hand back the model's
output (logits, intensities or both, by ``Backend.task``:
:mod:`auzoo.models.tasks`), so the face pipeline and the table around them do
not know which one ran:

* ``torch``: an ``auzoo train`` checkpoint (or a published model's official
  weights, the model named) through :class:`auzoo.engine.inference.Inference`,
  the path validation and ``auzoo eval`` use;
* ``onnxruntime``: an ``auzoo export`` file through :class:`OnnxInference`; the
  file's metadata gives the AUs, input size, landmarks and test pipeline.

:func:`open_backend` picks by the file name: ``*.onnx`` is an ONNX file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

PathLike = Union[str, os.PathLike]


@dataclass
class Backend:
    """A loaded model, whichever runtime runs it.

    ``inference(frames, landmarks)`` returns the float32 output (logits
    (N, n_AU) for occurrence; ``task`` says how to read it) and
    ``inference.probabilities(...)`` the logits' sigmoid as numpy; ``meta`` is the
    source checkpoint's meta (what produced the weights), ``test_pipeline`` the
    model's test pipeline as step configs (the resize to ``img_size`` not
    included: :func:`auzoo.data.transforms.build_pipeline` appends it).
    """

    inference: Any
    img_size: int
    aus: Tuple[int, ...]
    name: Optional[str]
    runtime: str
    meta: Dict[str, Any] = field(default_factory=dict)
    test_pipeline: List[Dict[str, Any]] = field(default_factory=list)
    model: Optional[torch.nn.Module] = None   # the torch model (None for an ONNX file)
    export: Optional[Dict[str, Any]] = None   # an ONNX file's source checkpoint and versions
    task: str = "occurrence"                  # occurrence, intensity or both


def onnx_file(weights) -> Optional[Path]:
    """The ``.onnx`` file ``weights`` names (a path, or a list of one), else None."""
    items = [weights] if isinstance(weights, (str, os.PathLike)) else list(weights or [])
    onnx = [Path(w) for w in items if Path(w).suffix.lower() == ".onnx"]
    if onnx and len(items) > 1:
        raise ValueError(f"{onnx[0]}: an .onnx file is the whole model; give it alone as weights")
    return onnx[0] if onnx else None


def load_model(weights, model=None, device: Optional[str] = None,
               cfg_options: Optional[dict] = None):
    """``(model, img_size)`` on ``device``, in eval mode: an ``auzoo train``
    checkpoint, or with ``model`` named that model's official weights
    (:func:`auzoo.engine.weight_formats.load_weights`).

    The checkpoint's own config builds the model unless ``model`` (a name,
    a config or a module) is given; either way the weights must fit it.
    """
    from auzoo.engine.checkpoint import CheckpointError
    from auzoo.engine.weight_formats import load_weights

    try:
        net = load_weights(weights, model=model, cfg_options=cfg_options)
    except RuntimeError as exc:  # load_state_dict: tensors of other shapes
        detail = "; ".join(line.strip() for line in str(exc).splitlines()[1:4])
        raise CheckpointError(f"{weights}: the checkpoint does not fit the model ({detail})") from exc
    meta = getattr(net, "checkpoint_meta", {}) or {}
    cfg = getattr(net, "cfg", None)
    img_size = meta.get("img_size") or (cfg.get("img_size") if cfg is not None else None) or 224
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return net.to(device).eval(), int(img_size)


def eval_precision(net, device: torch.device) -> str:
    """The precision ``auzoo eval`` scores the model in, so predict matches it:
    the config's ``precision.eval`` on a GPU (fp32 by default), fp32 on a CPU."""
    if device.type != "cuda":
        return "fp32"
    cfg = getattr(net, "cfg", None)
    precision = cfg.get("precision") if cfg is not None else None
    return (precision or {}).get("eval", "fp32") if isinstance(precision, dict) else "fp32"


def torch_backend(weights, model=None, device: Optional[str] = None,
                  precision: Optional[str] = None, cfg_options: Optional[dict] = None) -> Backend:
    from auzoo.data.transforms import pipeline_steps
    from auzoo.engine.inference import Inference

    net, img_size = load_model(weights, model, device, cfg_options)
    device = next(net.parameters()).device
    inference = Inference(net, img_size, precision=precision or eval_precision(net, device),
                          channels_last=device.type == "cuda")
    from auzoo.models.tasks import model_task

    return Backend(inference, img_size, tuple(int(a) for a in net.aus), getattr(net, "name", None),
                   "torch", dict(getattr(net, "checkpoint_meta", {}) or {}),
                   pipeline_steps(getattr(net, "cfg", None), "test"), net, task=model_task(net))


def onnx_backend(path: PathLike, model=None, device: Optional[str] = None,
                 precision: Optional[str] = None, cfg_options: Optional[dict] = None) -> Backend:
    if model is not None or cfg_options:
        raise ValueError(f"{path}: an ONNX file holds its model; --model and --cfg-options are "
                         "for checkpoints")
    if precision not in (None, "fp32"):
        raise ValueError(f"{path}: an exported ONNX graph runs in fp32, not {precision}")
    inference = OnnxInference(path, device=device)
    m = inference.metadata
    meta = dict(m.checkpoint.get("meta") or {})
    meta.setdefault("model", m.model)
    export = dict(checkpoint={k: m.checkpoint.get(k) for k in ("file", "sha256")},
                  versions=m.versions, opset=m.opset)
    return Backend(inference, m.img_size, m.aus, m.model, f"onnxruntime ({inference.provider})",
                   meta, list(m.test_pipeline), export=export, task=inference.task)


def open_backend(weights, model=None, device: Optional[str] = None,
                 precision: Optional[str] = None, cfg_options: Optional[dict] = None) -> Backend:
    """The backend for ``weights``: an ``.onnx`` file (by its name) through onnxruntime,
    else torch weights (an auzoo checkpoint, or a named model's official files)."""
    path = onnx_file(weights)
    if path is not None:
        return onnx_backend(path, model, device, precision, cfg_options)
    return torch_backend(weights, model, device, precision, cfg_options)


# ---------------------------------------------------------------- onnxruntime

def onnx_providers(device: Optional[str]) -> Tuple[list, torch.device, str]:
    """``(providers, device, provider name)`` for ``device`` (default: CUDA where
    onnxruntime has its CUDA provider, else the CPU)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    has_cuda = "CUDAExecutionProvider" in available
    wanted = torch.device(device) if device else torch.device("cuda" if has_cuda else "cpu")
    if wanted.type == "cpu":
        return ["CPUExecutionProvider"], wanted, "CPUExecutionProvider"
    if wanted.type != "cuda":
        raise ValueError(f"onnxruntime runs on 'cpu' or 'cuda', not {device!r}")
    if not has_cuda:
        raise ValueError(f"device {device!r}: this onnxruntime has no CUDAExecutionProvider "
                         f"(it has {', '.join(available)}); install onnxruntime-gpu, or use "
                         "--device cpu")
    index = wanted.index or 0
    return ([("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"],
            torch.device("cuda", index), "CUDAExecutionProvider")


class OnnxInference:
    """An ``auzoo export`` file in an onnxruntime session, called like
    :class:`auzoo.engine.inference.Inference`: uint8 faces (N, S, S, 3) and their
    landmarks in, float32 logits out.

    On a CPU the session uses as many threads as torch (``torch.get_num_threads``),
    so the face workers ``auzoo predict`` starts beside it count cores alike.
    """

    precision = "fp32"
    channels_last = False

    def __init__(self, path: PathLike, device: Optional[str] = None,
                 threads: Optional[int] = None):
        from auzoo.export.metadata import OnnxFileError, OnnxMetadata, require_export_packages

        require_export_packages("onnxruntime")
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX file not found: {self.path}")
        providers, self.device, self.provider = onnx_providers(device)
        options = ort.SessionOptions()
        if self.device.type == "cpu":
            options.intra_op_num_threads = threads or torch.get_num_threads()
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as exc:  # onnxruntime's own exception types
            text = str(exc).strip().splitlines()
            raise OnnxFileError(f"{self.path}: not a readable ONNX model "
                                f"({text[0] if text else type(exc).__name__})") from None
        self.metadata = OnnxMetadata.from_props(
            self.session.get_modelmeta().custom_metadata_map, self.path)
        inputs = tuple(i.name for i in self.session.get_inputs())
        outputs = tuple(o.name for o in self.session.get_outputs())
        if inputs != self.metadata.input_names or outputs != self.metadata.outputs:
            raise OnnxFileError(f"{self.path}: the graph's inputs {list(inputs)} and outputs "
                                f"{list(outputs)} are not those its metadata describes "
                                f"({list(self.metadata.input_names)}, {list(self.metadata.outputs)})")
        self.img_size = self.metadata.img_size
        self.requires_landmarks = self.metadata.requires_landmarks
        has = set(self.metadata.outputs)
        self.task = ("both" if has == {"logits", "intensity"} else
                     "intensity" if has == {"intensity"} else "occurrence")

    def outputs(self, frames, landmarks=None) -> Dict[str, np.ndarray]:
        """Every output of the graph by name (``logits``, and ``intensity`` where present)."""
        from auzoo.data.model_input import model_input
        from auzoo.export.metadata import IMAGES, LANDMARKS

        if self.requires_landmarks and landmarks is None:
            raise ValueError(f"model '{self.metadata.model}' ({self.path}) needs landmarks "
                             "and none were given")
        images, points = model_input(torch.as_tensor(frames).cpu(),
                                     landmarks if self.requires_landmarks else None, self.img_size)
        feeds = {IMAGES: images.numpy()}
        if points is not None:
            feeds[LANDMARKS] = points.numpy()
        names = list(self.metadata.outputs)
        return dict(zip(names, self.session.run(names, feeds)))

    def __call__(self, frames, landmarks=None) -> Tensor:
        """The float32 output on the CPU, laid out as the model's
        (:func:`auzoo.models.tasks.join_output`: logits, intensities or both)."""
        from auzoo.models.tasks import join_output

        out = {k: torch.from_numpy(v).float() for k, v in self.outputs(frames, landmarks).items()}
        return join_output(out.get("logits"), out.get("intensity"), self.task)

    def probabilities(self, frames, landmarks=None) -> np.ndarray:
        """Sigmoid of the logits as a float32 numpy array (N, n_AU)."""
        if "logits" not in self.metadata.outputs:
            raise ValueError(f"{self.path}: an intensity model gives no occurrence probabilities")
        return torch.sigmoid(torch.from_numpy(self.outputs(frames, landmarks)["logits"])).numpy()


__all__ = ["Backend", "OnnxInference", "eval_precision", "load_model", "onnx_file",
           "onnx_backend", "onnx_providers", "open_backend", "torch_backend"]
