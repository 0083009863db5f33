"""Real face photos shipped with installed packages, videos made from them, and
small checkpoints in the format ``auzoo train`` writes."""
from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest
import skimage.data
import torch
from mmengine.config import Config
from torch import nn

import auzoo
from auzoo.engine.checkpoint import save_checkpoint
from auzoo.registry import MODELS

AUS = (1, 2, 4, 6, 9, 12, 25, 26)
FPS = 10.0


def tiny_config(aus=AUS, img_size=64) -> Config:
    """A RegionAUNet on timm's tiny ``test_resnet``: the real assembler, fast."""
    return Config(dict(img_size=img_size, model=dict(
        type="RegionAUNet", aus=tuple(aus),
        backbone=dict(type="TimmBackbone", model_name="test_resnet"), neck=None,
        splitter=dict(type="WholeFaceSplitter"), attention=[],
        head=dict(type="TwoFCHead", pool_size=1, hidden=16, dropout=0.0),
        branches=[dict(region="face")])))


def write_checkpoint(path: Path, cfg: Config, name: str) -> Path:
    torch.manual_seed(0)
    net = auzoo.build_model(cfg)
    return save_checkpoint(path, net.state_dict(), dict(
        config=cfg.pretty_text, model=name, aus=list(net.aus), img_size=cfg.img_size))


@MODELS.register_module(name="PredictLandmarkProbe", force=True)
class LandmarkProbe(nn.Module):
    """A model that needs landmarks and records what the predictor hands it."""

    requires_landmarks = True
    seen: list = []

    def __init__(self, aus=AUS):
        super().__init__()
        self.aus = tuple(aus)
        self.loss_groups = [tuple(range(len(self.aus)))]
        self.linear = nn.Linear(3, len(self.aus))

    def forward(self, images, landmarks=None):
        assert landmarks is not None and landmarks.shape[1:] == (66, 2)
        LandmarkProbe.seen.append((images.detach().clone(), landmarks.detach().clone()))
        return self.linear(images.mean(dim=(2, 3)))


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pth", tiny_config(), "tiny")


@pytest.fixture(scope="session")
def probe_ckpt(tmp_path_factory) -> Path:
    cfg = Config(dict(img_size=112, model=dict(type="PredictLandmarkProbe")))
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "probe.pth", cfg, "probe")


@pytest.fixture(scope="session")
def photos(tmp_path_factory):
    """``{'grace_hopper': path, 'astronaut': path}``: one real face each."""
    root = tmp_path_factory.mktemp("photos")
    astronaut = root / "astronaut.png"
    cv2.imwrite(str(astronaut), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    grace = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return {"grace_hopper": grace, "astronaut": astronaut}


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]),
                          borderMode=cv2.BORDER_REPLICATE)


def write_video(path: Path, frames, fps: float = FPS) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def grace_video(tmp_path_factory, photos) -> Path:
    """Grace Hopper moving 3 px right and 2 px down per frame, 6 frames at 10 fps."""
    image = cv2.imread(str(photos["grace_hopper"]))
    frames = [shifted(image, 3 * i, 2 * i) for i in range(6)]
    return write_video(tmp_path_factory.mktemp("video") / "grace.avi", frames)


@pytest.fixture(scope="session")
def two_face_video(tmp_path_factory, photos) -> Path:
    """The astronaut (left) and Grace Hopper (right) side by side, drifting apart."""
    left = cv2.imread(str(photos["astronaut"]))
    right = cv2.imread(str(photos["grace_hopper"]))
    right = cv2.resize(right, (round(right.shape[1] * 512 / right.shape[0]), 512))
    frames = [np.hstack([shifted(left, -2 * i, 0), shifted(right, 2 * i, 0)]) for i in range(5)]
    return write_video(tmp_path_factory.mktemp("video") / "two.avi", frames)
