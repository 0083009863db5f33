"""auzoo's one video decoder (PyAV): frames in decoding order, with their time.

::

    with open_video("clip.mp4") as video:
        print(video.fps, video.declared_frames)
        for frame in video.frames(every=2):          # every other frame
            rgb = frame.to_rgb()                     # (H, W, 3) uint8, converted on demand
            print(frame.index, frame.timestamp)

    count_frames("clip.mp4")                 # what the container declares (None if it does not say)
    count_frames("clip.mp4", exact=True)     # decode and count

``index`` counts decoded frames from 0 (DISFA's labels are numbered this way);
``timestamp`` is the frame's presentation time in seconds from the stream's
start, or ``index / fps`` where the stream carries no timestamps. A frame is
converted to an array only when asked (``to_rgb``/``to_bgr``): skipped frames
must still be decoded (later frames need them), but cost no conversion.

Every failure is a :class:`VideoError` (a ``ValueError``) that names the file.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np

PathLike = Union[str, os.PathLike]


class VideoError(ValueError):
    """A video that cannot be opened or decoded; the message names the file."""


def _av():
    import av  # imported on use: PyAV loads FFmpeg's libraries

    return av


def _reason(exc: Exception) -> str:
    """FFmpeg's reason without the file name (the message names the file once)."""
    return getattr(exc, "strerror", None) or str(exc)


class Frame:
    """One decoded frame: its number, its time, and its pixels on demand."""

    __slots__ = ("index", "timestamp", "_frame")

    def __init__(self, index: int, timestamp: float, frame):
        self.index, self.timestamp, self._frame = index, timestamp, frame

    def to_rgb(self) -> np.ndarray:
        return self._frame.to_ndarray(format="rgb24")

    def to_bgr(self) -> np.ndarray:
        return self._frame.to_ndarray(format="bgr24")


class Video:
    """An open video file (use :func:`open_video`); close it, or use ``with``."""

    def __init__(self, path: PathLike, threads: Optional[int] = None):
        av = _av()
        self.path = Path(path)
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise VideoError(f"{self.path}: not a readable video ({_reason(exc)})") from exc
        if not self._container.streams.video:
            self._container.close()
            raise VideoError(f"{self.path}: has no video stream")
        self._stream = self._container.streams.video[0]
        if threads is None:
            self._stream.thread_type = "AUTO"  # FFmpeg's frame and slice threads
        else:
            self._stream.thread_count = max(1, int(threads))
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else math.nan
        self.width = self._stream.codec_context.width
        self.height = self._stream.codec_context.height
        self._decoding = False

    @property
    def declared_frames(self) -> Optional[int]:
        """Frames the container declares; None when it does not say."""
        n = self._stream.frames
        return int(n) if n else None

    def frames(self, every: int = 1, limit: Optional[int] = None) -> Iterator[Frame]:
        """Every ``every``-th decoded frame (0, every, 2·every, …), at most ``limit`` of them.

        A video is decoded once: a second call on the same :class:`Video` is an error.
        """
        if every < 1:
            raise ValueError(f"every must be >= 1, not {every}")
        if self._decoding:
            raise RuntimeError(f"{self.path}: frames() can be iterated once per open_video()")
        self._decoding = True
        av, stream = _av(), self._stream
        start = stream.start_time or 0
        time_base = stream.time_base
        index, given = -1, 0
        try:
            for index, frame in enumerate(self._container.decode(stream)):
                if index % every:
                    continue
                if limit is not None and given >= limit:
                    return
                if frame.pts is not None and time_base is not None:
                    timestamp = float((frame.pts - start) * time_base)
                else:
                    timestamp = index / self.fps
                given += 1
                yield Frame(index, timestamp, frame)
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: decoding failed after frame {index} "
                             f"({_reason(exc)})") from exc
        if index < 0 and limit != 0:
            raise VideoError(f"{self.path}: not a readable video (no frame decoded)")

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> "Video":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_video(path: PathLike, threads: Optional[int] = None) -> Video:
    """Open ``path`` for decoding. ``threads``: FFmpeg decoding threads
    (default: FFmpeg's automatic choice; 1 where several processes decode)."""
    return Video(path, threads=threads)


def iter_frames(path: PathLike, every: int = 1, limit: Optional[int] = None,
                format: str = "rgb24", threads: Optional[int] = None
                ) -> Iterator[tuple]:
    """``(index, timestamp, image)`` of every ``every``-th frame; ``format``
    'rgb24' or 'bgr24' (OpenCV's order)."""
    if format not in ("rgb24", "bgr24"):
        raise ValueError(f"format must be 'rgb24' or 'bgr24', not {format!r}")
    with open_video(path, threads=threads) as video:
        for frame in video.frames(every=every, limit=limit):
            yield frame.index, frame.timestamp, frame._frame.to_ndarray(format=format)


def count_frames(path: PathLike, exact: bool = False) -> Optional[int]:
    """Frames in a video: what the container declares (None when it does not
    say or the file cannot be opened), or with ``exact=True`` the number
    decoded (a VideoError if the file cannot be read)."""
    if not exact:
        try:
            with open_video(path) as video:
                return video.declared_frames
        except VideoError:
            return None
    with open_video(path) as video:
        return sum(1 for _ in video.frames())


def is_video(path: PathLike) -> bool:
    """Whether PyAV finds a video stream in ``path``."""
    try:
        with open_video(path):
            return True
    except VideoError:
        return False


__all__ = ["Frame", "Video", "VideoError", "count_frames", "is_video", "iter_frames", "open_video"]
