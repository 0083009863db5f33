"""One conversion from a pipeline's faces to a model's input, whichever road
the faces take: the training loader's preprocessor, the inference path that
validation, ``auzoo eval`` and ``auzoo predict`` use, and an ONNX runtime."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from auzoo.data.au_frames import AUFrames
from auzoo.data.model_input import model_input, to_model_input

from .conftest import SIZE

TEST = [dict(type="AlignMidline", size=SIZE)]
MODEL_SIZE = 56


class ReadsLandmarks(nn.Module):
    """Logits that depend on every pixel and on where each landmark lies."""

    requires_landmarks = True
    aus = (1, 2)

    def __init__(self):
        super().__init__()
        self.mix = nn.Linear(3 * MODEL_SIZE * MODEL_SIZE + 66 * 2, 2)

    def forward(self, images, landmarks):
        assert images.shape[-2:] == (MODEL_SIZE, MODEL_SIZE)
        return self.mix(torch.cat([images.flatten(1), landmarks.flatten(1)], dim=1))


def test_training_and_inference_feed_a_model_the_same_input(cache):
    from auzoo.engine.inference import Inference
    from auzoo.engine.losses import AUBCELoss
    from auzoo.engine.model import AUDetectorModule

    torch.manual_seed(0)
    net = ReadsLandmarks()
    batch = AUFrames(cache, ["SN001"], aus=(1, 2), pipeline=TEST).__getitems__([0, 3, 5])
    assert batch["image"].shape[1:] == (SIZE, SIZE, 3) and SIZE != MODEL_SIZE
    module = AUDetectorModule(net, AUBCELoss(), img_size=MODEL_SIZE)
    fed = module.data_preprocessor(batch, False)
    with torch.no_grad():
        trained_on = module(fed["images"], landmarks=fed["landmarks"])
    scored = Inference(net, MODEL_SIZE)(batch["image"].numpy(), batch["landmarks"].numpy())
    torch.testing.assert_close(scored, trained_on, rtol=0, atol=0)
    images, points = model_input(batch["image"], batch["landmarks"], MODEL_SIZE)
    torch.testing.assert_close(fed["images"], images, rtol=0, atol=0)
    torch.testing.assert_close(fed["landmarks"], points, rtol=0, atol=0)


def test_landmarks_follow_the_resize_and_their_pixel_centres():
    frames = torch.zeros(1, 100, 100, 3, dtype=torch.uint8)
    frames[0, 10, 30] = 255   # the pixel the landmark sits on
    points = np.array([[[30.0, 10.0]]], dtype=np.float64)
    images, scaled = model_input(frames, points, 50)
    assert images.shape == (1, 3, 50, 50) and scaled.dtype == torch.float32
    # pixel centre (30, 10) of 100 px is (14.75, 4.75) of 50 px: the bright blob's centre
    torch.testing.assert_close(scaled[0, 0], torch.tensor([14.75, 4.75]))
    ys, xs = np.nonzero(images[0, 0].numpy() > 0)
    weights = images[0, 0].numpy()[ys, xs]
    assert np.average(xs, weights=weights) == pytest.approx(14.75, abs=0.01)
    assert np.average(ys, weights=weights) == pytest.approx(4.75, abs=0.01)
    same, none = model_input(frames, None, 100)
    assert none is None and torch.equal(same, to_model_input(frames))


def test_frames_that_are_not_rgb_batches_are_refused():
    with pytest.raises(ValueError, match=r"expected uint8 frames \(N, H, W, 3\)"):
        model_input(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
