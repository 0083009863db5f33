"""auzoo's one video decoder (PyAV)."""
from __future__ import annotations

import numpy as np
import pytest

from auzoo.vision.video import VideoError, count_frames, iter_frames, open_video

from .conftest import FPS


def test_frames_with_numbers_and_times(grace_video):
    with open_video(grace_video) as video:
        assert video.fps == pytest.approx(FPS) and video.width > 0 and video.height > 0
        frames = list(video.frames())
    assert [f.index for f in frames] == list(range(6))
    np.testing.assert_allclose([f.timestamp for f in frames], np.arange(6) / FPS, atol=1e-6)
    rgb, bgr = frames[0].to_rgb(), frames[0].to_bgr()
    assert rgb.shape == (video.height, video.width, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[..., ::-1], bgr)


def test_every_and_limit_keep_the_videos_numbers(grace_video):
    picked = list(iter_frames(grace_video, every=2, limit=2))
    assert [i for i, _, _ in picked] == [0, 2]
    np.testing.assert_allclose([t for _, t, _ in picked], [0.0, 0.2], atol=1e-6)
    with open_video(grace_video) as video:
        list(video.frames())
        with pytest.raises(RuntimeError, match="once"):
            list(video.frames())


def test_count_frames(grace_video, tmp_path):
    assert count_frames(grace_video, exact=True) == 6
    assert count_frames(grace_video) in (6, None)  # what the container declares, if anything
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(2048))
    assert count_frames(junk) is None
    with pytest.raises(VideoError, match="junk.mp4"):
        count_frames(junk, exact=True)
    with pytest.raises(VideoError, match="junk.mp4"):
        open_video(junk)
