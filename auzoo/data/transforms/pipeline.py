"""A config's pipeline, built: steps in order, then the model's input size.

``build_pipeline(cfg['test_pipeline'], img_size)`` gives a callable that turns
one image and its landmarks into the model's input as uint8 RGB (img_size,
img_size, 3), landmarks in its pixels and the steps applied. The resize to
``img_size`` is appended to every pipeline, so a recipe is written at its own
resolution (JAA-Net's 176, ME-GraphAU's 224) and a smaller demo input changes
one key.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from auzoo.data.transforms.base import Transform, new_results, render
from auzoo.data.transforms.geometric import Resize
from auzoo.registry import TRANSFORMS, build_part

StepConfig = Union[dict, Transform]

# TRA-Net's recipe: the paper's alignment at 224 px; training mirrors half the faces.
DEFAULT_TEST_PIPELINE = [dict(type="AlignMidline", size=224)]
DEFAULT_TRAIN_PIPELINE = [dict(type="AlignMidline", size=224), dict(type="RandomFlip", prob=0.5)]


class Pipeline:
    """Steps applied in order to ``(img, landmarks)``; see :mod:`.base` for what they see."""

    def __init__(self, steps: Sequence[StepConfig], img_size: Optional[int] = None):
        self.steps: List[Transform] = [build_transform(s) for s in steps]
        if img_size is not None:
            self.steps.append(Resize(int(img_size)))
        self.img_size = img_size
        self.random = any(s.random for s in self.steps)

    def __call__(self, img: np.ndarray, landmarks: Optional[np.ndarray] = None, rng=None,
                 valid=None) -> Dict[str, Any]:
        """``dict(img, landmarks, steps, flipped)`` of one face (``img``: the cache's
        loose crop or a whole frame; ``valid``: the part of ``img`` that is source)."""
        results = new_results(img, landmarks, rng, valid)
        for step in self.steps:
            results = step(results)
        render(results)
        return dict(img=results["img"], landmarks=results["landmarks"].astype(np.float32),
                    steps=results["steps"], flipped=bool(results.get("flipped", False)))

    def output_size(self, input_size: int) -> int:
        """The side of the images this pipeline makes from ``input_size`` squares."""
        probe = self(np.zeros((input_size, input_size, 3), np.uint8), rng=np.random.default_rng(0))
        return int(probe["img"].shape[0])

    def describe(self) -> List[dict]:
        """The steps with their arguments (what a result file records)."""
        return [dict(type=type(s).__name__, **s.arguments()) for s in self.steps]

    def __repr__(self) -> str:
        return "Pipeline(" + ", ".join(map(repr, self.steps)) + ")"


def build_transform(cfg: StepConfig) -> Transform:
    if isinstance(cfg, Transform):
        return cfg
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise ValueError(f"a pipeline step is dict(type=NAME, ...), not {cfg!r}")
    return build_part(TRANSFORMS, cfg)


def build_pipeline(steps: Optional[Iterable[StepConfig]], img_size: Optional[int] = None,
                   default: Sequence[dict] = DEFAULT_TEST_PIPELINE) -> Pipeline:
    """A :class:`Pipeline` of ``steps`` (``None``: ``default``) ending at ``img_size``."""
    steps = list(default if steps is None else steps)
    if not steps:
        raise ValueError("a pipeline needs at least its alignment step")
    return Pipeline(steps, img_size)


def pipeline_steps(cfg, split: str) -> List[dict]:
    """The ``train`` or ``test`` pipeline of a model config as plain step dicts
    (TRA-Net's where the config has none)."""
    if split not in ("train", "test"):
        raise ValueError(f"split is 'train' or 'test', not {split!r}")
    steps = cfg.get(f"{split}_pipeline") if cfg is not None else None
    if steps is None:
        steps = DEFAULT_TRAIN_PIPELINE if split == "train" else DEFAULT_TEST_PIPELINE
    return [_to_dict(s) for s in steps]


def config_pipeline(cfg, split: str, img_size: Optional[int] = None) -> Pipeline:
    """The built ``train``/``test`` pipeline of a model config, ending at its ``img_size``."""
    size = img_size if img_size is not None else (cfg.get("img_size") if cfg is not None else None)
    return build_pipeline(pipeline_steps(cfg, split), size)


def _to_dict(step) -> dict:
    if isinstance(step, Transform):
        return dict(type=type(step).__name__, **step.arguments())
    return {k: (_to_dict(v) if isinstance(v, dict) else v) for k, v in dict(step).items()}
