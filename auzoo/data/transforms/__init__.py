"""Data transforms: each model's own way of seeing a face (its recipe).

A config's ``train_pipeline`` and ``test_pipeline`` list registered
transforms (``auzoo.registry.TRANSFORMS``): the face alignment first, then
crops, flips and colour jitter; :func:`build_pipeline` appends the resize to
the model's ``img_size``. Normalisation is not a step: each backbone does its
own inside the model.
"""
from auzoo.data.transforms.align import AlignEyeBox, AlignFivePoint, AlignMidline
from auzoo.data.transforms.base import Transform, render
from auzoo.data.transforms.colour import ColorJitter
from auzoo.data.transforms.geometric import CenterCrop, RandomCrop, RandomFlip, Resize
from auzoo.data.transforms.pipeline import (DEFAULT_TEST_PIPELINE, DEFAULT_TRAIN_PIPELINE,
                                            Pipeline, build_pipeline, build_transform,
                                            config_pipeline, pipeline_steps)

__all__ = ["AlignEyeBox", "AlignFivePoint", "AlignMidline", "CenterCrop", "ColorJitter",
           "DEFAULT_TEST_PIPELINE", "DEFAULT_TRAIN_PIPELINE", "Pipeline", "RandomCrop",
           "RandomFlip", "Resize", "Transform", "build_pipeline", "build_transform",
           "config_pipeline", "pipeline_steps", "render"]
