"""The mmengine side of an auzoo model: batch preparation, loss and validation.

:class:`AUFramePreprocessor` takes what the data loader yields (uint8 frames
straight from the cache) to the device without blocking and makes the model's
input there (:func:`auzoo.data.model_input.model_input`).
:class:`AUDetectorModule` wraps any auzoo model for mmengine's Runner: a
training step under the configured autocast with the configured loss, and a
validation step through the one inference path, so validation scores exactly
what ``auzoo eval`` and ``auzoo predict`` would.

Two host synchronisations a step are avoided on purpose: bf16 needs no loss
scaling (its exponent range is fp32's), so no GradScaler and its
``found_inf.item()``; and the loss is handed to mmengine's logger only every
``log_interval`` iterations, since logging reads it back with ``.item()``.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np
import torch
from mmengine.model import BaseDataPreprocessor, BaseModel
from torch import Tensor, nn

from auzoo.data.model_input import model_input
from auzoo.engine.inference import Inference, autocast, check_precision, model_logits
from auzoo.engine.init import apply_init
from auzoo.models.tasks import check_task, model_task, split_output
from auzoo.registry import MODELS


class AUFramePreprocessor(BaseDataPreprocessor):
    """uint8 (N, H, W, 3) frames -> float (N, 3, S, S) in [0, 1] on the device,
    with landmarks scaled to S, labels and their mask (and the intensity labels
    and their mask, where the batch has them); the frames' subject names pass
    through for losses that use them (identity-adversarial heads)."""

    def __init__(self, img_size: int, channels_last: bool = False):
        super().__init__(non_blocking=True)
        self.img_size = int(img_size)
        self.channels_last = channels_last

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(dict(data))
        images, landmarks = model_input(data["image"], data.get("landmarks"), self.img_size,
                                        self.channels_last)
        out = dict(images=images, labels=data.get("labels"), label_mask=data.get("label_mask"),
                   index=data.get("index"), subject=data.get("subject"))
        if data.get("intensity") is not None:
            out.update(intensity=data["intensity"], intensity_mask=data["intensity_mask"])
        if landmarks is not None:
            out["landmarks"] = landmarks
        return out


@MODELS.register_module()
class AUDetectorModule(BaseModel):
    """An auzoo model as mmengine's Runner trains and validates it.

    Args:
        model: the auzoo model (built, or its config; ``model.aus`` orders
            labels and logits).
        loss: the built loss, or its config (see :mod:`auzoo.engine.losses`).
        img_size: the model's input size.
        precision: dict with 'train' and 'eval' precision ('fp32', 'bf16',
            'fp16'; default fp32) and 'channels_last' (channels-last inputs and
            weights; default False), as the run's record keeps them.
        log_interval: iterations between losses handed to the logger.
        init: where the weights start beyond the model's own: 'run', another
            run's weights (:func:`auzoo.engine.init.plan_init`: a first stage
            or a source run's epoch), and 'allow_random' (True: a frozen
            backbone stage may keep random weights).
        name: the model's name (its config's), for messages and records.
        task: what the run trains and scores ('occurrence', 'intensity',
            'both'); the model must predict it (:mod:`auzoo.models.tasks`).
    """

    def __init__(self, model, loss, img_size: int, precision: Optional[Mapping[str, Any]] = None,
                 log_interval: int = 20, init: Optional[Mapping[str, Any]] = None,
                 name: Optional[str] = None, task: str = "occurrence"):
        precision, init = dict(precision or {}), dict(init or {})
        unknown = (set(precision) - {"train", "eval", "channels_last"}) | \
            (set(init) - {"run", "allow_random"})
        if unknown:
            raise ValueError(f"AUDetectorModule: unknown precision or init key(s) "
                             f"{', '.join(sorted(unknown))}")
        channels_last = bool(precision.get("channels_last", False))
        super().__init__(data_preprocessor=AUFramePreprocessor(img_size, channels_last))
        if isinstance(model, Mapping):
            from auzoo.registry import build_part
            model = build_part(MODELS, model)
        if name is not None:
            model.name = name
        if model_task(model) != check_task(task):
            raise ValueError(f"the config's task is {task!r} but model "
                             f"'{getattr(model, 'name', type(model).__name__)}' predicts "
                             f"{model_task(model)!r}: an intensity model needs model.intensity_head "
                             "(and no occurrence head unless task='both')")
        self.task = task
        if isinstance(loss, Mapping):
            from auzoo.engine.losses import build_loss
            loss = build_loss(loss)
        from auzoo.weights import backbone_init, check_frozen_init
        check_frozen_init(model, bool(init.get("allow_random", False)))
        self.backbone_init = backbone_init(model)
        # another run's weights (auzoo.engine.init): a first stage, or a source run's epoch
        self.init_from_record = apply_init(model, init["run"]) if init.get("run") else None
        self.model = model
        self.loss = loss
        self.img_size = int(img_size)
        self.train_precision = check_precision(precision.get("train", "fp32"))
        self.eval_precision = check_precision(precision.get("eval", "fp32"))
        self.channels_last = channels_last
        self.log_interval = max(1, int(log_interval))
        self._step = 0

    @property
    def aus(self):
        return self.model.aus

    def outputs(self, images: Tensor, landmarks: Optional[Tensor]) -> Dict[str, Tensor]:
        """The model's training outputs: its ``forward_train`` dict, else its logits."""
        forward_train = getattr(self.model, "forward_train", None)
        if forward_train is not None:
            return forward_train(images, landmarks)
        return dict(logits=model_logits(self.model, images, landmarks))

    # what a batch carries beside the images, labels and landmarks (AUFramePreprocessor)
    TARGETS = ("index", "subject", "intensity", "intensity_mask")

    def forward(self, images: Tensor, labels: Optional[Tensor] = None,
                label_mask: Optional[Tensor] = None, landmarks: Optional[Tensor] = None,
                mode: str = "tensor", **targets):
        """mmengine's modes: 'loss' (the loss dict), 'predict' (what the
        metrics read), 'tensor' (the model's output). ``targets``: the rest of
        a preprocessed batch (:attr:`TARGETS`: row index, subject names,
        intensity labels and their mask), which losses and metrics read."""
        unknown = set(targets) - set(self.TARGETS)
        if unknown:
            raise TypeError(f"AUDetectorModule.forward got unknown batch key(s) "
                            f"{', '.join(sorted(unknown))}; it reads {', '.join(self.TARGETS)}")
        if mode == "loss":
            with autocast(images.device, self.train_precision):
                outputs = self.outputs(images, landmarks)
            mask = label_mask if label_mask is not None else torch.ones_like(labels, dtype=torch.bool)
            batch = dict(landmarks=landmarks, **{k: targets.get(k) for k in self.TARGETS})
            losses = self.loss(outputs, labels, mask, batch)
            return losses if isinstance(losses, dict) else {"loss": losses}
        output = model_logits(self.model, images, landmarks)
        if mode == "predict":
            return [self._scored(output.float(), labels, label_mask, targets.get("index"),
                                 targets.get("intensity"), targets.get("intensity_mask"))]
        return output

    def _scored(self, output: Tensor, labels, label_mask, index, intensity, intensity_mask) -> dict:
        """What the metrics read: occurrence ``logits`` and ``intensity_pred`` (0-5)
        split from the model's one output, beside the labels."""
        logits, predicted = split_output(output, self.task, len(self.aus))
        if label_mask is None and labels is not None:
            label_mask = torch.ones_like(labels, dtype=torch.bool)
        return dict(logits=logits, intensity_pred=predicted, labels=labels, label_mask=label_mask,
                    index=index, intensity=intensity, intensity_mask=intensity_mask)

    def train_step(self, data, optim_wrapper) -> Dict[str, Tensor]:
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode="loss")
        parsed, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        self._step += 1
        if self._step % self.log_interval:
            return {}  # no .item() this step
        return {k: v.detach() for k, v in log_vars.items()}

    def inference(self) -> Inference:
        """The one inference path, on the model's current device."""
        device = next(self.model.parameters()).device
        if getattr(self, "_inference", None) is None or self._inference.device != device:
            self._inference = Inference(self.model, self.img_size, precision=self.eval_precision,
                                        channels_last=self.channels_last)
        return self._inference

    def val_step(self, data) -> list:
        """Validation through the one inference path (:class:`Inference`)."""
        output = self.inference()(data["image"], data.get("landmarks"))
        return [self._scored(output, data["labels"], data.get("label_mask"),
                             torch.as_tensor(np.asarray(data["index"])), data.get("intensity"),
                             data.get("intensity_mask"))]

    test_step = val_step
